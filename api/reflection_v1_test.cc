// grpc.reflection.v1 beside the library's v1alpha, on a real server: v1
// answers what a reflection client asks, and gives the same answers as
// v1alpha (the two protocols are identical on the wire but for the names).
#include <memory>
#include <string>
#include <vector>

#include "api/testing/api_fixture.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "gtest/gtest.h"

namespace xlb::api {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
namespace rv1 = grpc::reflection::v1;

class ReflectionV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = testing::ApiHarness::Start();
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
  }

  // The responses of one stream of `version` ("v1" or "v1alpha") to
  // `requests`, as serialized bytes.
  std::vector<std::string> Ask(
      const std::string& version,
      const std::vector<rv1::ServerReflectionRequest>& requests) {
    grpc::ClientContext context;
    // RpcMethod keeps the pointer: the name must outlive it.
    const std::string name = "/grpc.reflection." + version +
                             ".ServerReflection/ServerReflectionInfo";
    const grpc::internal::RpcMethod method(
        name.c_str(), grpc::internal::RpcMethod::BIDI_STREAMING);
    auto stream = std::unique_ptr<
        grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>>(
        grpc::internal::ClientReaderWriterFactory<
            grpc::ByteBuffer, grpc::ByteBuffer>::Create(harness_->channel()
                                                            .get(),
                                                        method, &context));
    std::vector<std::string> answers;
    for (const rv1::ServerReflectionRequest& request : requests) {
      grpc::Slice slice(request.SerializeAsString());
      grpc::ByteBuffer in(&slice, 1), out;
      EXPECT_TRUE(stream->Write(in));
      EXPECT_TRUE(stream->Read(&out)) << version;
      std::vector<grpc::Slice> slices;
      (void)out.Dump(&slices);
      std::string bytes;
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      answers.push_back(bytes);
    }
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << version << ": " << status.error_code() << " "
                             << status.error_message();
    return answers;
  }

  rv1::ServerReflectionResponse AskV1(const rv1::ServerReflectionRequest& r) {
    rv1::ServerReflectionResponse response;
    EXPECT_TRUE(response.ParseFromString(Ask("v1", {r})[0]));
    return response;
  }

  std::unique_ptr<testing::ApiHarness> harness_;
};

rv1::ServerReflectionRequest ListServices() {
  rv1::ServerReflectionRequest r;
  r.set_list_services("");
  return r;
}
rv1::ServerReflectionRequest Symbol(const std::string& name) {
  rv1::ServerReflectionRequest r;
  r.set_file_containing_symbol(name);
  return r;
}
rv1::ServerReflectionRequest File(const std::string& name) {
  rv1::ServerReflectionRequest r;
  r.set_file_by_filename(name);
  return r;
}

std::vector<std::string> FileNames(const rv1::ServerReflectionResponse& r) {
  std::vector<std::string> names;
  for (const std::string& bytes :
       r.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    EXPECT_TRUE(file.ParseFromString(bytes));
    names.push_back(file.name());
  }
  return names;
}

TEST_F(ReflectionV1Test, ListsEveryServiceIncludingBothReflectionVersions) {
  rv1::ServerReflectionResponse r = AskV1(ListServices());
  std::vector<std::string> names;
  for (const auto& s : r.list_services_response().service()) {
    names.push_back(s.name());
  }
  EXPECT_THAT(names,
              IsSupersetOf({"xlb.v1.LoadBalancer", "grpc.health.v1.Health",
                            "grpc.reflection.v1.ServerReflection",
                            "grpc.reflection.v1alpha.ServerReflection"}));
  EXPECT_EQ(r.original_request().list_services(), "");
}

TEST_F(ReflectionV1Test, FileContainingASymbolComesWithItsDependencies) {
  rv1::ServerReflectionResponse r = AskV1(Symbol("xlb.v1.LoadBalancer"));
  std::vector<std::string> names = FileNames(r);
  ASSERT_FALSE(names.empty()) << r.DebugString();
  EXPECT_EQ(names[0], "xlb/v1/xlb.proto");
  EXPECT_THAT(names, Contains("xlb/v1/config.proto"));
  // A method name and a message name resolve to their files too.
  EXPECT_EQ(FileNames(AskV1(Symbol("xlb.v1.LoadBalancer.GetConfig")))[0],
            "xlb/v1/xlb.proto");
  EXPECT_EQ(FileNames(AskV1(File("grpc/reflection/v1/reflection.proto"))),
            std::vector<std::string>{"grpc/reflection/v1/reflection.proto"});
}

TEST_F(ReflectionV1Test, UnknownNamesAndEmptyRequestsAreErrorResponses) {
  rv1::ServerReflectionResponse r = AskV1(Symbol("xlb.v1.NoSuchThing"));
  EXPECT_EQ(r.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(r.error_response().error_message(), "Symbol not found.");
  r = AskV1(File("no/such.proto"));
  EXPECT_EQ(r.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  rv1::ServerReflectionRequest extension;
  extension.mutable_file_containing_extension()->set_containing_type(
      "xlb.v1.Vip");
  extension.mutable_file_containing_extension()->set_extension_number(99);
  r = AskV1(extension);
  EXPECT_EQ(r.error_response().error_message(), "Extension not found.");
  r = AskV1(rv1::ServerReflectionRequest());
  EXPECT_EQ(r.error_response().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ReflectionV1Test, AnswersAreTheSameAsV1alphas) {
  rv1::ServerReflectionRequest extensions;
  extensions.set_all_extension_numbers_of_type("xlb.v1.Vip");
  rv1::ServerReflectionRequest with_host = Symbol("xlb.v1.Config");
  with_host.set_host("example");
  const std::vector<rv1::ServerReflectionRequest> requests = {
      ListServices(),
      Symbol("xlb.v1.LoadBalancer"),
      Symbol("grpc.health.v1.Health"),
      File("xlb/v1/config.proto"),
      extensions,
      with_host,
      Symbol("xlb.v1.NoSuchThing"),
  };
  // One request per stream: how v1alpha reuses a stream is its own.
  for (const rv1::ServerReflectionRequest& request : requests) {
    EXPECT_THAT(Ask("v1", {request}), ElementsAre(Ask("v1alpha", {request})[0]))
        << request.DebugString();
  }
}

}  // namespace
}  // namespace xlb::api
