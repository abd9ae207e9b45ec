#include "api/reflection_v1.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"

namespace xlb::api {
namespace {

namespace pb = google::protobuf;
namespace rv1 = grpc::reflection::v1;

class ReflectionV1Service final : public rv1::ServerReflection::Service {
 public:
  // The server's service names, known once the server is built.
  void SetServices(const std::vector<std::string>* services) {
    services_ = services;
  }

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<rv1::ServerReflectionResponse,
                               rv1::ServerReflectionRequest>* stream) override {
    rv1::ServerReflectionRequest request;
    while (stream->Read(&request)) {
      rv1::ServerReflectionResponse response;
      grpc::Status status = Answer(request, &response);
      if (!status.ok()) {
        response.mutable_error_response()->set_error_code(status.error_code());
        response.mutable_error_response()->set_error_message(
            status.error_message());
      }
      response.set_valid_host(request.host());
      *response.mutable_original_request() = request;
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status Answer(const rv1::ServerReflectionRequest& request,
                      rv1::ServerReflectionResponse* response) const {
    const pb::DescriptorPool* pool = pb::DescriptorPool::generated_pool();
    std::unordered_set<std::string> sent_files;
    switch (request.message_request_case()) {
      case rv1::ServerReflectionRequest::kFileByFilename: {
        const pb::FileDescriptor* file =
            pool->FindFileByName(request.file_by_filename());
        if (file == nullptr) return NotFound("File not found.");
        AddFile(file, response, &sent_files);
        return grpc::Status::OK;
      }
      case rv1::ServerReflectionRequest::kFileContainingSymbol: {
        const pb::FileDescriptor* file =
            pool->FindFileContainingSymbol(request.file_containing_symbol());
        if (file == nullptr) return NotFound("Symbol not found.");
        AddFile(file, response, &sent_files);
        return grpc::Status::OK;
      }
      case rv1::ServerReflectionRequest::kFileContainingExtension: {
        const rv1::ExtensionRequest& ext = request.file_containing_extension();
        const pb::Descriptor* type =
            pool->FindMessageTypeByName(ext.containing_type());
        if (type == nullptr) return NotFound("Type not found.");
        const pb::FieldDescriptor* field =
            pool->FindExtensionByNumber(type, ext.extension_number());
        if (field == nullptr) return NotFound("Extension not found.");
        AddFile(field->file(), response, &sent_files);
        return grpc::Status::OK;
      }
      case rv1::ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const pb::Descriptor* type = pool->FindMessageTypeByName(
            request.all_extension_numbers_of_type());
        if (type == nullptr) return NotFound("Type not found.");
        std::vector<const pb::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        rv1::ExtensionNumberResponse* numbers =
            response->mutable_all_extension_numbers_response();
        numbers->set_base_type_name(type->full_name());
        for (const pb::FieldDescriptor* field : extensions) {
          numbers->add_extension_number(field->number());
        }
        return grpc::Status::OK;
      }
      case rv1::ServerReflectionRequest::kListServices: {
        if (services_ == nullptr) return NotFound("Services not found.");
        for (const std::string& name : *services_) {
          response->mutable_list_services_response()->add_service()->set_name(
              name);
        }
        return grpc::Status::OK;
      }
      case rv1::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        break;
    }
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "no request field set");
  }

  static grpc::Status NotFound(const char* message) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, message);
  }

  // `file`, then its dependencies depth first, each file once.
  static void AddFile(const pb::FileDescriptor* file,
                      rv1::ServerReflectionResponse* response,
                      std::unordered_set<std::string>* sent_files) {
    if (!sent_files->insert(file->name()).second) return;
    pb::FileDescriptorProto proto;
    file->CopyTo(&proto);
    response->mutable_file_descriptor_response()->add_file_descriptor_proto(
        proto.SerializeAsString());
    for (int i = 0; i < file->dependency_count(); ++i) {
      AddFile(file->dependency(i), response, sent_files);
    }
  }

  const std::vector<std::string>* services_ = nullptr;
};

// Registers the service when the server is created and hands it the
// server's service list once every service is registered.
class ReflectionV1Plugin final : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "xlb_reflection_v1"; }
  void InitServer(grpc::ServerInitializer* si) override {
    si->RegisterService(service_);
  }
  void Finish(grpc::ServerInitializer* si) override {
    service_->SetServices(si->GetServiceList());
  }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}
  bool has_sync_methods() const override { return true; }
  bool has_async_methods() const override { return false; }

 private:
  std::shared_ptr<ReflectionV1Service> service_ =
      std::make_shared<ReflectionV1Service>();
};

class ReflectionV1BuilderOption final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->push_back(std::make_unique<ReflectionV1Plugin>());
  }
};

}  // namespace

std::unique_ptr<grpc::ServerBuilderOption> ReflectionV1Option() {
  return std::make_unique<ReflectionV1BuilderOption>();
}

}  // namespace xlb::api
