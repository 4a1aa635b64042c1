//! Groups on the screen (issue 14): the sidebar's mark, the header, the members (F2), the
//! system lines a membership change shows, the receipts of my messages, and who has read
//! a picked one.

use super::{centred_box, dim, key_or_blank, pal, trust_marks};
use crate::app::App;
use crate::app::groups::ReadBy;
use crate::app::keymap::{Action, Mode};
use crate::message::{Author, Change, Message, Tally};
use crate::proto::NodeId;
use crate::proto::group::GroupId;
use crate::text;
use crate::tr;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// The sidebar's mark of a group, where a peer has its online dot.
pub fn presence(app: &App, g: &GroupId) -> Span<'static> {
    let member = app.group(g).is_none_or(|i| i.member);
    let style = if member {
        Style::default().fg(pal(app).accent)
    } else {
        dim(app)
    };
    Span::styled("#", style)
}

/// A mark after a group's name when one of its members' keys changed (⚠).
pub fn marks(app: &App, g: &GroupId) -> Vec<Span<'static>> {
    let Some(info) = app.group(g) else {
        return Vec::new();
    };
    let changed = info.members.iter().any(|m| {
        app.identity_change(&crate::proto::ConversationId::Peer(*m))
            .is_some()
    });
    if changed {
        vec![Span::styled(
            "⚠",
            Style::default()
                .fg(pal(app).badge)
                .add_modifier(Modifier::BOLD),
        )]
    } else {
        Vec::new()
    }
}

/// The name a member is shown under (not sanitised yet).
pub fn member_name(app: &App, who: &NodeId) -> String {
    if *who == app.me.id {
        return app.me.name.clone();
    }
    app.author_name(&Author::Peer(*who))
}

/// The header over a group: its name, how many members, how many of them online.
pub fn header(app: &App, g: &GroupId, name: String) -> String {
    let Some(info) = app.group(g) else {
        return name;
    };
    if !info.member {
        return tr!(app.lang, "group-header-gone", name = name);
    }
    let online = info
        .members
        .iter()
        .filter(|m| **m != app.me.id && app.peers.get(m).is_some_and(|p| p.online))
        .count();
    tr!(
        app.lang,
        "group-header",
        name = name,
        n = info.members.len(),
        online = online
    )
}

/// The system line a membership change shows ("alice added bob"), names sanitised.
pub fn change_text(app: &App, author: &Author, c: &Change) -> String {
    let name = |n: &NodeId| text::sanitize_line(&member_name(app, n));
    let names = |ks: &[NodeId]| ks.iter().map(name).collect::<Vec<_>>().join(", ");
    let who = text::sanitize_line(&app.author_name(author));
    let lang = app.lang;
    match c {
        Change::Created { name: n, .. } => {
            tr!(
                lang,
                "group-created",
                who = who,
                name = text::sanitize_line(n)
            )
        }
        Change::Invited(ks) => tr!(lang, "group-added", who = who, whom = names(ks)),
        Change::Left => tr!(lang, "group-left", who = who),
        Change::Removed(k) => tr!(lang, "group-removed", who = who, whom = name(k)),
        Change::Renamed(n) => tr!(
            lang,
            "group-renamed",
            who = who,
            name = text::sanitize_line(n)
        ),
        Change::Handover(k) => tr!(lang, "group-handover", who = who, whom = name(k)),
    }
}

/// "delivered to 3/4 · read by 2" on my group message.
pub fn tally_text(app: &App, t: &Tally) -> String {
    let delivered = tr!(app.lang, "group-delivered", n = t.delivered, m = t.of);
    if t.read == 0 {
        return delivered;
    }
    format!(
        "{delivered} · {}",
        tr!(app.lang, "group-read-by", k = t.read)
    )
}

/// The tally a message of mine in a group shows: what the runtime last said, or nothing
/// delivered yet (of the group's other members now).
pub fn tally_of(app: &App, m: &Message) -> Option<Tally> {
    let g = m.group.as_ref()?;
    if m.author != Author::Me || g.change.is_some() {
        return None;
    }
    // Only the open conversation's messages are drawn.
    let others = app
        .open_group()
        .and_then(|g| app.group(&g))
        .map_or(0, |i| i.members.len().saturating_sub(1));
    Some(g.tally.unwrap_or(Tally {
        of: others,
        ..Tally::default()
    }))
}

/// My group message's receipts as its header shows them: green once everyone holds it,
/// cyan once everyone has read it.
pub fn tally_span(app: &App, m: &Message) -> Option<Span<'static>> {
    let t = tally_of(app, m)?;
    let style = if t.of > 0 && t.read >= t.of {
        Style::default().fg(Color::Cyan)
    } else if t.of > 0 && t.delivered >= t.of {
        Style::default().fg(Color::Green)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    Some(Span::styled(tally_text(app, &t), style))
}

/// After a member's name in a group: its key's marks when they need attention (changed,
/// unverified, blocked).
pub fn author_marks(app: &App, m: &Message) -> Vec<Span<'static>> {
    match (m.group.as_ref(), m.author) {
        (Some(_), Author::Peer(who)) => {
            let marks = trust_marks(app, &who);
            let verified = matches!(
                app.trust.get(&who).map(|t| t.trust),
                Some(crate::proto::Trust::Verified)
            ) && app
                .identity_change(&crate::proto::ConversationId::Peer(who))
                .is_none();
            if marks.is_empty() || verified {
                return Vec::new();
            }
            let mut out = vec![Span::raw(" ")];
            out.extend(marks);
            out
        }
        _ => Vec::new(),
    }
}

/// A membership change's line in the middle of the pane ("alice added bob").
pub fn system_line(app: &App, m: &Message, width: u16) -> Option<Line<'static>> {
    let c = m.change()?;
    let mut line = super::centred(&change_text(app, &m.author, c), width, dim(app));
    if app.picked == Some(m.id) {
        line = line.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    Some(line)
}

/// The marks a member shows in the members' list: its key's trust marks.
pub fn member_marks(app: &App, who: &NodeId) -> Vec<Span<'static>> {
    if *who == app.me.id {
        return Vec::new();
    }
    trust_marks(app, who)
}

/// F2 on a group: its members (online, verified, owner), or, for a picked message of mine,
/// who has read it and who has not.
pub fn draw_info(buf: &mut Buffer, area: Rect, app: &App, g: &GroupId) {
    let lang = app.lang;
    let close = key_or_blank(app, Mode::PeerInfo, Action::Close);
    let (title, lines) = match &app.read_by {
        Some(r) if r.group == *g => (
            tr!(lang, "group-read-by-title", close = close),
            read_by_lines(app, r),
        ),
        _ => (
            tr!(lang, "group-members-title", close = close),
            member_lines(app, g),
        ),
    };
    let inner = centred_box(buf, area, app, 60, lines.len() as u16 + 2, &title);
    let rows = usize::from(inner.height);
    let more = lines.len().saturating_sub(rows);
    for (row, line) in lines.iter().take(rows).enumerate() {
        let line = if more > 0 && row + 1 == rows {
            Line::from(Span::styled(
                format!(" {}", tr!(lang, "group-more", n = more + 1)),
                dim(app),
            ))
        } else {
            line.clone()
        };
        buf.set_line(inner.x, inner.y + row as u16, &line, inner.width);
    }
}

/// One member's line: online dot, name, trust marks, owner, me.
fn member_line(app: &App, who: &NodeId, owner: Option<NodeId>) -> Line<'static> {
    let p = pal(app);
    let online = *who == app.me.id || app.peers.get(who).is_some_and(|p| p.online);
    let dot = if online {
        Span::styled(" ● ", Style::default().fg(p.online))
    } else {
        Span::styled(" ○ ", dim(app))
    };
    let mut spans = vec![dot, Span::raw(text::sanitize_line(&member_name(app, who)))];
    let marks = member_marks(app, who);
    if !marks.is_empty() {
        spans.push(Span::raw(" "));
        spans.extend(marks);
    }
    let changed = app
        .identity_change(&crate::proto::ConversationId::Peer(*who))
        .is_some();
    let unverified = matches!(
        app.trust.get(who).map(|t| t.trust),
        Some(crate::proto::Trust::Unverified)
    );
    if changed {
        spans.push(Span::styled(
            format!(" {}", tr!(app.lang, "group-member-changed")),
            Style::default().fg(p.badge),
        ));
    } else if unverified {
        spans.push(Span::styled(
            format!(" {}", tr!(app.lang, "group-member-unverified")),
            dim(app),
        ));
    }
    if owner == Some(*who) {
        spans.push(Span::styled(
            format!(" {}", tr!(app.lang, "group-owner")),
            Style::default().fg(p.accent).add_modifier(Modifier::BOLD),
        ));
    }
    if *who == app.me.id {
        spans.push(Span::styled(
            format!(" {}", tr!(app.lang, "group-me")),
            dim(app),
        ));
    }
    Line::from(spans)
}

fn member_lines(app: &App, g: &GroupId) -> Vec<Line<'static>> {
    let Some(info) = app.group(g) else {
        return vec![Line::from(Span::styled(
            format!(" {}", tr!(app.lang, "group-not-member")),
            dim(app),
        ))];
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!(" {} ", tr!(app.lang, "ui-info-shown-as")), dim(app)),
        Span::raw(text::sanitize_line(&info.name)),
    ])];
    if !info.member {
        out.push(Line::from(Span::styled(
            format!(" {}", tr!(app.lang, "group-not-member")),
            dim(app),
        )));
    }
    // The owner first, then online members, then by name.
    let mut members = info.members.clone();
    members.sort_by_cached_key(|m| {
        (
            Some(*m) != info.owner,
            !(app.peers.get(m).is_some_and(|p| p.online) || *m == app.me.id),
            member_name(app, m).to_lowercase(),
        )
    });
    out.extend(members.iter().map(|m| member_line(app, m, info.owner)));
    out
}

fn read_by_lines(app: &App, r: &ReadBy) -> Vec<Line<'static>> {
    let lang = app.lang;
    let Some(a) = &r.answer else {
        return vec![Line::from(Span::styled(
            format!(" {}", tr!(lang, "group-asking")),
            dim(app),
        ))];
    };
    let owner = app.group(&r.group).and_then(|i| i.owner);
    let heading = |s: String| Line::from(Span::styled(format!(" {s}"), dim(app)));
    let not_read: Vec<NodeId> = a
        .members
        .iter()
        .filter(|m| !a.read.contains(m))
        .copied()
        .collect();
    let mut out = vec![heading(tr!(lang, "group-read-list", k = a.read.len()))];
    out.extend(a.read.iter().map(|m| member_line(app, m, owner)));
    out.push(heading(tr!(lang, "group-unread-list", k = not_read.len())));
    for m in &not_read {
        let mut line = member_line(app, m, owner);
        if !a.delivered.contains(m) {
            line.spans.push(Span::styled(
                format!(" {}", tr!(lang, "group-not-delivered")),
                dim(app),
            ));
        }
        out.push(line);
    }
    out
}

/// A switcher row, with `+` on a peer marked for a new group.
pub fn switcher_row(
    app: &App,
    sw: &crate::app::Switcher,
    conv: &crate::app::Conversation,
    row: Line<'static>,
) -> Line<'static> {
    let marked = matches!(conv.id, crate::proto::ConversationId::Peer(p) if sw.marked.contains(&p));
    if !marked {
        return row;
    }
    let mut spans = row.spans;
    if let Some(first) = spans.first_mut() {
        *first = Span::styled(
            "+",
            Style::default()
                .fg(pal(app).accent)
                .add_modifier(Modifier::BOLD),
        );
    }
    Line::from(spans)
}
