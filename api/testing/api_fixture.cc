#include "api/testing/api_fixture.h"

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

namespace xlb::api::testing {

ApiHarness::ApiHarness(Options options, std::string dir)
    : options_(options),
      dir_(std::move(dir)),
      socket_(dir_ + "/xlbd.sock"),
      state_path_(dir_ + "/state/state"),
      maps_(options.limits) {}

absl::StatusOr<std::unique_ptr<ApiHarness>> ApiHarness::Start(Options options) {
  char dir_template[] = "/tmp/xlb-api-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  std::unique_ptr<ApiHarness> harness(new ApiHarness(options, dir_template));
  std::filesystem::create_directories(harness->dir_ + "/state");
  if (absl::Status s = harness->StartAgent(); !s.ok()) return s;
  return harness;
}

absl::Status ApiHarness::StartAgent() {
  state_file_ = std::make_unique<StateFile>(state_path_, options_.state_file);
  absl::StatusOr<std::unique_ptr<Balancer>> balancer = Balancer::Create(&maps_);
  if (!balancer.ok()) return balancer.status();
  balancer_ = *std::move(balancer);
  absl::StatusOr<std::unique_ptr<agent::Controller>> controller =
      agent::Controller::Create(
          balancer_.get(),
          agent::ControllerOptions{
              .state_file = options_.persist ? state_file_.get() : nullptr,
              .event_capacity = options_.event_capacity,
              .version = "test",
              .flow_hash_seed = options_.flow_hash_seed});
  if (!controller.ok()) return controller.status();
  controller_ = *std::move(controller);
  if (options_.bgp.has_value()) {
    announcer_ = agent::StartAnnouncer(controller_.get(), *options_.bgp);
  }
  service_ = std::make_unique<LoadBalancerService>(
      controller_.get(), nullptr, AgentInfo{.version = "test"}, &counters_,
      options_.max_event_watchers, announcer_.get());
  absl::StatusOr<std::unique_ptr<ApiServer>> server = ApiServer::Start(
      ListenerOptions{.unix_socket = socket_}, {service_.get()});
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  channel_ = grpc::CreateChannel(absl::StrCat("unix:", socket_),
                                 grpc::InsecureChannelCredentials());
  stub_ = v1::LoadBalancer::NewStub(channel_);
  return absl::OkStatus();
}

void ApiHarness::Stop() {
  stub_.reset();
  channel_.reset();
  if (controller_ != nullptr) controller_->events().Shutdown();
  if (server_ != nullptr) server_->Shutdown();
  server_.reset();
  service_.reset();
  if (controller_ != nullptr) controller_->SetServingObserver(nullptr);
  announcer_.reset();
  controller_.reset();
  balancer_.reset();
}

absl::Status ApiHarness::Restart() {
  Stop();
  return StartAgent();
}

ApiHarness::~ApiHarness() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

grpc::Status CreateVip(v1::LoadBalancer::Stub& stub, const v1::Vip& vip) {
  grpc::ClientContext context;
  v1::CreateVipRequest request;
  *request.mutable_vip() = vip;
  v1::CreateVipResponse response;
  return stub.CreateVip(&context, request, &response);
}

v1::GetConfigResponse GetConfig(v1::LoadBalancer::Stub& stub) {
  grpc::ClientContext context;
  v1::GetConfigResponse response;
  EXPECT_TRUE(stub.GetConfig(&context, {}, &response).ok());
  return response;
}

}  // namespace xlb::api::testing
