#pragma once

// Access to the core byte buffer inside a grpc::ByteBuffer. gRPC 1.51 keeps there whether a
// message is compressed, and with which algorithm; grpc::ByteBuffer grants access to it to this
// (otherwise undefined) friend class only. For the gRPC receiver, the cluster's forwarder (which
// sends requests it compressed itself) and tests.

#include <grpc/byte_buffer.h>
#include <grpc/compression.h>
#include <grpcpp/support/byte_buffer.h>

namespace grpc::internal {

class GrpcByteBufferPeer {
 public:
  // `buffer` must outlive the peer.
  explicit GrpcByteBufferPeer(const ByteBuffer* buffer)
      : buffer_(const_cast<ByteBuffer*>(buffer)) {}

  // GRPC_COMPRESS_NONE unless the received message came compressed (its compressed flag set and
  // a grpc-encoding gRPC knows); with per-message decompression off, the bytes are still
  // compressed then.
  grpc_compression_algorithm compression() const {
    const grpc_byte_buffer* c = buffer_->c_buffer();
    return c != nullptr && c->type == GRPC_BB_RAW ? c->data.raw.compression : GRPC_COMPRESS_NONE;
  }

  // Makes the (empty) buffer own `c`, e.g. one from grpc_raw_compressed_byte_buffer_create: sent,
  // such a message goes out as it is with its compressed flag set.
  void Adopt(grpc_byte_buffer* c) {
    buffer_->Clear();
    *buffer_->c_buffer_ptr() = c;
  }

 private:
  ByteBuffer* const buffer_;
};

}  // namespace grpc::internal
