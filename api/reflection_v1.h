// grpc.reflection.v1.ServerReflection, served beside the library's v1alpha
// (Debian's gRPC 1.51 has only v1alpha). It answers from the same descriptor
// pool (the generated one) and the server's own list of services, by the
// same rules as gRPC's v1alpha implementation, so both give the same
// answers: the file asked for and all its transitive dependencies; errors in
// error_response (NOT_FOUND for an unknown file, symbol, type or extension,
// UNIMPLEMENTED for a request with no field set).
//
// Install with builder.SetOption(ReflectionV1Option()) before BuildAndStart.
#ifndef XLB_API_REFLECTION_V1_H_
#define XLB_API_REFLECTION_V1_H_

#include <memory>

#include "grpcpp/impl/server_builder_option.h"

namespace xlb::api {

std::unique_ptr<grpc::ServerBuilderOption> ReflectionV1Option();

}  // namespace xlb::api

#endif  // XLB_API_REFLECTION_V1_H_
