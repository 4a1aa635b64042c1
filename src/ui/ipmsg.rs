//! How IP Messenger, iptux and FeiQ peers are drawn: their mark in the sidebar (unencrypted,
//! like plain text, lit when online), the header, and their lines in the peer info (F2).
//! Everything they say of themselves is sanitised like any peer text.

use crate::app::App;
use crate::proto::ipmsg::Charset;
use crate::text;
use crate::tr;
use ratatui::style::{Color, Style};
use ratatui::text::Span;
use std::net::Ipv4Addr;

/// The sidebar mark: `≈` (unencrypted), green while online.
pub(super) fn presence(app: &App, ip: Ipv4Addr, raw: Color, dim: Style) -> Span<'static> {
    match app.ipmsg_peers.get(&ip) {
        Some(p) if p.online => Span::styled("≈", Style::default().fg(Color::Green)),
        Some(_) => Span::styled("≈", dim),
        None => Span::styled("≈", Style::default().fg(raw)),
    }
}

pub(super) fn header(app: &App, ip: Ipv4Addr, name: String) -> String {
    let lang = app.lang;
    match app.ipmsg_peers.get(&ip) {
        Some(p) if p.online => tr!(
            lang,
            "ipmsg-header",
            name = name,
            client = p.client.as_str()
        ),
        Some(p) => tr!(
            lang,
            "ipmsg-header-offline",
            name = name,
            client = p.client.as_str()
        ),
        None => tr!(lang, "ipmsg-header", name = name, client = "IP Messenger"),
    }
}

/// The peer info's lines: what its entry says (client, user, host, group), where it is,
/// what we write to it in, and that nothing of it is authenticated.
pub(super) fn info_lines(app: &App, ip: Ipv4Addr) -> Vec<(String, String)> {
    let lang = app.lang;
    let mut lines = Vec::new();
    if let Some(p) = app.ipmsg_peers.get(&ip) {
        lines.push((
            tr!(lang, "ui-info-calls-itself"),
            text::sanitize_line(&p.name),
        ));
        lines.push((tr!(lang, "ipmsg-info-client"), p.client.as_str().to_owned()));
        lines.push((tr!(lang, "ipmsg-info-user"), text::sanitize_line(&p.user)));
        lines.push((tr!(lang, "ipmsg-info-host"), text::sanitize_line(&p.host)));
        if !p.group.is_empty() {
            lines.push((tr!(lang, "ipmsg-info-group"), text::sanitize_line(&p.group)));
        }
        lines.push((tr!(lang, "ui-info-address"), p.addr.to_string()));
        let status = if p.online {
            tr!(lang, "ui-info-online")
        } else {
            tr!(lang, "ui-info-offline")
        };
        lines.push((tr!(lang, "ui-info-status"), status));
        if p.absent {
            lines.push((tr!(lang, "ipmsg-info-away"), "✓".to_owned()));
        }
        let encoding = match p.charset {
            Charset::Utf8 => "UTF-8",
            Charset::Gb18030 => "GBK/GB18030",
        };
        lines.push((tr!(lang, "ipmsg-info-encoding"), encoding.to_owned()));
    } else {
        lines.push((tr!(lang, "ui-info-address"), ip.to_string()));
    }
    lines.push((tr!(lang, "ui-info-encryption"), tr!(lang, "ipmsg-enc-none")));
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::app::{Me, Msg};
    use crate::proto::{ConversationId, Event, IpmsgClient, IpmsgPeerView, NodeId};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| crate::ui::draw(f, app)).unwrap();
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_sidebar_marks_it_unencrypted_and_f2_shows_client_host_and_group_sanitised() {
        let mut app = App::new(
            Me {
                id: NodeId([0xEE; 32]),
                name: "me".into(),
                listen: "127.0.0.1:47475".parse().unwrap(),
                discovery: true,
            },
            7,
        );
        let _ = app.update(
            0,
            Msg::Resize {
                width: 80,
                height: 24,
            },
        );
        let view = IpmsgPeerView {
            ip: Ipv4Addr::new(10, 0, 0, 9),
            addr: "10.0.0.9:2425".parse().unwrap(),
            name: "bob".into(),
            user: "root".into(),
            host: "evil\u{1b}[2Jhost".into(),
            group: "QA".into(),
            client: IpmsgClient::Iptux,
            absent: false,
            online: true,
            charset: Charset::Utf8,
        };
        let _ = app.update(0, Msg::Net(Event::IpmsgPeer(view)));
        app.selected = Some(ConversationId::Ipmsg(Ipv4Addr::new(10, 0, 0, 9)));
        let s = screen(&app);
        assert!(s.contains("≈ bob"), "{s}");
        assert!(s.contains("bob · iptux, unencrypted"), "{s}");
        assert!(s.contains("· 1 online"), "the status line counts it:\n{s}");
        app.show_info = true;
        let s = screen(&app);
        for want in [
            "iptux",
            "root",
            "QA",
            "10.0.0.9:2425",
            "UTF-8",
            "unauthenticated",
        ] {
            assert!(s.contains(want), "{want} in\n{s}");
        }
        assert!(
            s.contains("evil^[[2Jhost"),
            "the escape shown visibly:\n{s}"
        );
    }
}
