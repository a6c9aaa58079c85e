// A real loopback HTTP server (127.0.0.1, ephemeral port, its own thread) that mimics the
// Hugging Face hub's layout, for model pull tests:
//   GET /api/models/{repo}                 {"id": repo, "siblings": [{"rfilename": ...}]}
//   GET /api/models/{repo}/tree/main[?..]  [{"type":"file","path","size","lfs":{"oid","size"}}]
//   GET /{repo}/resolve/main/{file}        302 to /cdn/{sha256}/{file} (a relative Location),
//                                          with X-Linked-Etag ("sha256") and X-Linked-Size
//   GET /cdn/{sha256}/{file}               the bytes, with Range support (206)
// Faults are switchable: drop the connection after N body bytes, corrupt a byte, ignore Range,
// and hide the tree API. Every request is logged. One connection at a time, Connection: close.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hearth::platform::testing {

class HfMockServer {
 public:
  struct LoggedRequest {
    std::string method;
    std::string target;
    std::string range;          // the Range header, empty when absent
    std::string authorization;  // the Authorization header, empty when absent
  };

  HfMockServer();
  ~HfMockServer();
  HfMockServer(const HfMockServer&) = delete;
  HfMockServer& operator=(const HfMockServer&) = delete;

  std::string endpoint() const;  // "http://127.0.0.1:PORT"
  uint16_t port() const { return port_; }

  void AddFile(const std::string& repo, const std::string& path, std::string bytes);

  // Faults (take effect for the next requests).
  void DisconnectAfter(std::optional<uint64_t> body_bytes, int times = 1);  // CDN responses
  void CorruptServedBytes(bool corrupt);   // flips one byte in the middle of what the CDN sends
  void IgnoreRange(bool ignore);           // the CDN always answers 200 with the whole file
  void HideTreeApi(bool hide);             // /tree/main answers 404
  void AdvertiseWrongSize(bool wrong);     // X-Linked-Size and tree size one byte too large

  std::vector<LoggedRequest> requests() const;
  // Bytes of model files the CDN path sent (API documents not counted).
  uint64_t body_bytes_served() const { return body_bytes_served_; }

 private:
  struct File {
    std::string repo, path, bytes, sha256;
  };
  void Serve();
  struct Reply {
    std::string head;  // status line and headers, ending with the blank line
    std::string body;
    std::optional<uint64_t> drop_after;  // close the connection after this many body bytes
    bool file_bytes = false;             // counted in body_bytes_served()
  };
  Reply Handle(const LoggedRequest& request);

  mutable std::mutex mu_;
  std::vector<File> files_;
  std::vector<LoggedRequest> log_;
  std::optional<uint64_t> disconnect_after_;
  int disconnect_times_ = 0;
  bool corrupt_ = false;
  bool ignore_range_ = false;
  bool hide_tree_ = false;
  bool wrong_size_ = false;
  std::atomic<uint64_t> body_bytes_served_{0};

  struct Impl;
  Impl* impl_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace hearth::platform::testing
