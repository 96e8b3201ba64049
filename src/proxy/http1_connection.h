#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace vallum::proxy {

class Worker;

/// Starts serving one accepted downstream connection on `worker` (its thread): TLS handshake
/// when the worker's snapshot has a TLS context, then HTTP/1.1 requests one after another
/// (keep-alive, pipelining) through the pipeline of ARCHITECTURE.md §2. The connection is a
/// coroutine whose frame owns the socket, buffers and parser; it registers itself with the
/// worker's ConnectionRegistry for deadlines and drain.
void startHttp1Connection(Worker& worker, boost::asio::ip::tcp::socket socket);

}  // namespace vallum::proxy
