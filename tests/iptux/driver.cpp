// A test peer for tests/iptux.rs: Debian's iptux core (libiptux-core, GPL) driven without
// a screen. It is built by the test and never becomes part of lanchat.
//
// Usage: driver CONFIG.json. Commands on stdin, one per line, fields split by tabs:
//   list | send IP TEXT | detect IP | offer IP PATH | files | recv FILEID DIR | quit
// Events on stdout, one per line, fields split by tabs (tab, newline and backslash in a
// field written \t, \n and \\):
//   ready | pal IP ONLINE ENCODE VERSION NAME GROUP | end | online IP NAME ENCODE VERSION
//   | update IP NAME ENCODE VERSION | offline IP | msg IP pal|self|error TEXT
//   | sent IP MS | file FILEID IP SIZE NAME | recv_done TASK | send_done TASK | error TEXT
#include <iptux-core/CoreThread.h>
#include <iptux-core/Event.h>
#include <iptux-core/IptuxConfig.h>
#include <iptux-core/ProgramData.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace iptux;

static std::mutex out_lock;
static std::mutex files_lock;
static std::map<uint32_t, std::shared_ptr<FileInfo>> offered;

static std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\t') o += "\\t";
    else if (c == '\n') o += "\\n";
    else if (c == '\\') o += "\\\\";
    else o += c;
  }
  return o;
}

static std::string unesc(const std::string& s) {
  std::string o;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      o += n == 't' ? '\t' : n == 'n' ? '\n' : n;
    } else {
      o += s[i];
    }
  }
  return o;
}

static void say(const std::vector<std::string>& fields) {
  std::lock_guard<std::mutex> l(out_lock);
  for (size_t i = 0; i < fields.size(); i++) {
    if (i) std::cout << '\t';
    std::cout << esc(fields[i]);
  }
  std::cout << std::endl;
}

static std::string ip_of(const PalInfo& p) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &p.ipv4, buf, sizeof buf);
  return buf;
}

static std::string key_ip(const PalKey& k) { return k.GetIpv4String(); }

static void on_event(std::shared_ptr<const Event> e) {
  switch (e->getType()) {
    case EventType::NEW_PAL_ONLINE: {
      auto p = std::dynamic_pointer_cast<const NewPalOnlineEvent>(e)->getPalInfo();
      say({"online", ip_of(*p), p->getName(), p->getEncode(), p->getVersion()});
      break;
    }
    case EventType::PAL_UPDATE: {
      auto p = std::dynamic_pointer_cast<const PalUpdateEvent>(e)->getPalInfo();
      say({"update", ip_of(*p), p->getName(), p->getEncode(), p->getVersion()});
      break;
    }
    case EventType::PAL_OFFLINE: {
      auto k = std::dynamic_pointer_cast<const PalOfflineEvent>(e)->GetPalKey();
      say({"offline", key_ip(k)});
      break;
    }
    case EventType::NEW_MESSAGE: {
      auto& para = std::dynamic_pointer_cast<const NewMessageEvent>(e)->getMsgPara();
      std::string who = para.getPal() ? ip_of(*para.getPal()) : "?";
      const char* kind = para.stype == MessageSourceType::PAL    ? "pal"
                         : para.stype == MessageSourceType::SELF ? "self"
                                                                 : "error";
      for (auto& chip : para.dtlist) say({"msg", who, kind, chip.data});
      break;
    }
    case EventType::NEW_SHARE_FILE_FROM_FRIEND: {
      auto& f = std::dynamic_pointer_cast<const NewShareFileFromFriendEvent>(e)->GetFileInfo();
      {
        std::lock_guard<std::mutex> l(files_lock);
        offered[f.fileid] = std::make_shared<FileInfo>(f);
      }
      say({"file", std::to_string(f.fileid), f.fileown ? ip_of(*f.fileown) : "?",
           std::to_string(f.filesize), f.filepath ? f.filepath : ""});
      break;
    }
    case EventType::RECV_FILE_FINISHED: {
      auto t = std::dynamic_pointer_cast<const RecvFileFinishedEvent>(e)->GetTaskId();
      say({"recv_done", std::to_string(t)});
      break;
    }
    case EventType::SEND_FILE_FINISHED: {
      auto t = std::dynamic_pointer_cast<const SendFileFinishedEvent>(e)->GetTaskId();
      say({"send_done", std::to_string(t)});
      break;
    }
    default:
      break;
  }
}

static std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(unesc(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(unesc(cur));
  return out;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: driver CONFIG.json" << std::endl;
    return 2;
  }
  auto config = std::make_shared<IptuxConfig>(std::string(argv[1]));
  auto data = std::make_shared<ProgramData>(config);
  CoreThread core(data);
  core.signalEvent.connect(&on_event);
  try {
    core.start();
  } catch (const std::exception& e) {
    say({"error", e.what()});
    return 1;
  } catch (...) {
    say({"error", "could not start"});
    return 1;
  }
  say({"ready"});
  std::string line;
  while (std::getline(std::cin, line)) {
    auto f = split(line);
    const std::string& cmd = f[0];
    try {
      if (cmd == "quit") {
        break;
      } else if (cmd == "list") {
        core.Lock();
        auto pals = core.GetPalList();
        core.Unlock();
        for (auto& p : pals)
          say({"pal", ip_of(*p), p->isOnline() ? "1" : "0", p->getEncode(), p->getVersion(),
               p->getName(), p->getGroup()});
        say({"end"});
      } else if (cmd == "send" && f.size() == 3) {
        auto pal = core.GetPal(f[1]);
        if (!pal) {
          say({"error", "no pal " + f[1]});
          continue;
        }
        auto start = std::chrono::steady_clock::now();
        core.SendMessage(CPPalInfo(pal), f[2]);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        say({"sent", f[1], std::to_string(ms)});
      } else if (cmd == "detect" && f.size() == 2) {
        core.SendDetectPacket(f[1]);
      } else if (cmd == "offer" && f.size() == 3) {
        auto pal = core.GetPal(f[1]);
        if (!pal) {
          say({"error", "no pal " + f[1]});
          continue;
        }
        static uint32_t next_file_id = 10000;  // private files are numbered from 10000
        auto file = std::make_shared<FileInfo>();
        file->fileid = next_file_id++;
        file->fileattr = FileAttr::REGULAR;
        file->filepath = strdup(f[2].c_str());
        struct stat st;
        if (stat(f[2].c_str(), &st) == 0) file->filectime = uint32_t(st.st_ctime);
        file->fileown = pal;
        file->ensureFilesizeFilled();
        core.Lock();
        core.AddPrivateFile(file);
        core.Unlock();
        std::vector<const PalInfo*> pals{pal.get()};
        std::vector<FileInfo*> files{file.get()};
        core.BcstFileInfoEntry(pals, files);
        say({"offered", f[1], f[2]});
      } else if (cmd == "recv" && f.size() == 3) {
        std::shared_ptr<FileInfo> known;
        {
          std::lock_guard<std::mutex> l(files_lock);
          auto it = offered.find(std::stoul(f[1]));
          if (it != offered.end()) known = it->second;
        }
        if (!known) {
          say({"error", "no file " + f[1]});
          continue;
        }
        auto* file = new FileInfo(*known);
        std::string name = file->filepath ? file->filepath : "file";
        auto slash = name.rfind('/');
        if (slash != std::string::npos) name = name.substr(slash + 1);
        free(file->filepath);
        file->filepath = strdup((f[2] + "/" + name).c_str());
        core.RecvFileAsync(file);
      } else {
        say({"error", "bad command: " + line});
      }
    } catch (const std::exception& e) {
      say({"error", e.what()});
    } catch (...) {
      say({"error", "exception"});
    }
  }
  core.stop();
  say({"bye"});
  return 0;
}
