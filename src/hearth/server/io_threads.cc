#include "hearth/server/io_threads.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>

namespace hearth::server {

void StartIoThreads(boost::asio::io_context& ioc, int count, std::string_view who,
                    std::vector<std::thread>& threads) {
  for (int i = 0; i < std::max(1, count); ++i) {
    threads.emplace_back([&ioc, label = std::string(who)] {
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("{}: I/O thread caught: {}", label, e.what());
        }
      }
    });
  }
}

}  // namespace hearth::server
