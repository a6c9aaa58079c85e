// The I/O threads of an Asio-based component (the HTTP server, the gateway's upstream proxy).
#pragma once

#include <boost/asio/io_context.hpp>
#include <string_view>
#include <thread>
#include <vector>

namespace hearth::server {

// Starts max(1, count) threads, each running `ioc` until it stops (keep a work guard on it). An
// exception that escapes a handler is logged under `who` and the thread goes on running: one
// bad connection must not take the process's I/O down.
void StartIoThreads(boost::asio::io_context& ioc, int count, std::string_view who,
                    std::vector<std::thread>& threads);

}  // namespace hearth::server
