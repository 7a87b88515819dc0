// TLS (and mTLS), bearer tokens, CORS and the HTTP connection limit on every listener of the real
// tailtraced: certificates made at test time, curl for the HTTP listeners, a gRPC client with
// SslCredentials for the OTLP/gRPC receiver.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/integration/test_util.h"
#include "tests/integration/tls_test_util.h"

namespace tailtrace::testing {
namespace {

using ::opentelemetry::proto::collector::trace::v1::TraceService;

constexpr char kToken[] = "s3cret-token-1";

// Per-listener YAML lines (indented for their section) of the tests' configs.
struct ListenerYaml {
  std::string grpc;
  std::string http;
  std::string query;
  std::string admin;
};

std::string Config(const std::string& storage, const ListenerYaml& y) {
  return absl::StrCat(
      "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0\n", y.grpc,
      "      http:\n        endpoint: 127.0.0.1:0\n", y.http,
      "sampling:\n  decision_wait: 200ms\n  decision_wait_after_root_received: 50ms\n"
      "  tick_interval: 20ms\n  num_shards: 1\n",
      "storage:\n  path: \"", storage, "\"\n", "query:\n  endpoint: 127.0.0.1:0\n", y.query,
      "admin:\n  endpoint: 127.0.0.1:0\n", y.admin);
}

std::string TlsYaml(const TestPki& pki, int indent, bool mtls = false,
                    const std::string& extra = "") {
  const std::string pad(indent, ' ');
  return absl::StrCat(pad, "tls:\n", pad, "  cert_file: \"", pki.server_cert, "\"\n", pad,
                      "  key_file: \"", pki.server_key, "\"\n",
                      mtls ? absl::StrCat(pad, "  client_ca_file: \"", pki.ca_cert, "\"\n") : "",
                      extra);
}

std::string AuthYaml(const std::string& token_file, int indent) {
  const std::string pad(indent, ' ');
  return absl::StrCat(pad, "auth:\n", pad, "  bearer_token_file: \"", token_file, "\"\n");
}

std::string Url(int port, const std::string& path, bool tls = true) {
  return absl::StrCat(tls ? "https" : "http", "://localhost:", port, path);
}

std::vector<std::string> WithToken(std::vector<std::string> args, const std::string& token) {
  args.insert(args.begin(), {"-H", "Authorization: Bearer " + token});
  return args;
}

// A TLS gRPC client; with `client_cert` it presents the PKI's client certificate.
class TlsGrpcClient {
 public:
  TlsGrpcClient(int port, const TestPki& pki, bool client_cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFileOrEmpty(pki.ca_cert);
    if (client_cert) {
      ssl.pem_cert_chain = ReadFileOrEmpty(pki.client_cert);
      ssl.pem_private_key = ReadFileOrEmpty(pki.client_key);
    }
    channel_ = grpc::CreateChannel(absl::StrCat("localhost:", port), grpc::SslCredentials(ssl));
    stub_ = TraceService::NewStub(channel_);
  }

  grpc::Status Export(uint64_t trace, const std::string& token) {
    ExportTraceServiceRequest request;
    AddTrace(&request, trace, 3, "tls-grpc");
    ExportTraceServiceResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub_->Export(&context, request, &response);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<TraceService::Stub> stub_;
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("tailtraced-security");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(*std::move(dir));
    absl::StatusOr<TestPki> pki = MakeTestPki(dir_->path(), "a");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *pki;
    token_file_ = dir_->Join("tokens");
    WriteFileAtomically(token_file_, absl::StrCat("# test tokens\n\n", kToken, "\n"));
  }

  void Start(const ListenerYaml& yaml) {
    absl::StatusOr<std::unique_ptr<Daemon>> daemon =
        Daemon::Start(dir_->path(), Config(dir_->Join("data"), yaml));
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
  }

  // TLS and the token file on all four listeners (mTLS on the receivers when `mtls`).
  ListenerYaml Everything(bool mtls) const {
    return ListenerYaml{
        TlsYaml(pki_, 8, mtls) + AuthYaml(token_file_, 8),
        TlsYaml(pki_, 8, mtls) + AuthYaml(token_file_, 8),
        TlsYaml(pki_, 2) + AuthYaml(token_file_, 2),
        TlsYaml(pki_, 2) + AuthYaml(token_file_, 2),
    };
  }

  std::vector<std::string> CaArgs() const { return {"--cacert", pki_.ca_cert}; }
  std::vector<std::string> ClientCertArgs() const {
    return {"--cacert", pki_.ca_cert, "--cert", pki_.client_cert, "--key", pki_.client_key};
  }

  CurlResult Get(int port, const std::string& path, const std::string& token,
                 std::vector<std::string> args) {
    args.push_back(Url(port, path));
    return token.empty() ? Curl(args) : Curl(WithToken(args, token));
  }

  std::optional<TempDir> dir_;
  TestPki pki_;
  std::string token_file_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(SecurityTest, TlsAndTokenOnEveryListener) {
  ASSERT_NO_FATAL_FAILURE(Start(Everything(/*mtls=*/false)));
  const int query = daemon_->query_port();
  const int admin = daemon_->admin_port();
  const int http = daemon_->http_port();

  // Query API: TLS, and 401 with WWW-Authenticate without the token.
  CurlResult r = Get(query, "/api/services", "", CaArgs());
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.headers.find("WWW-Authenticate: Bearer"), std::string::npos) << r.headers;
  EXPECT_EQ(Get(query, "/api/services", "wrong", CaArgs()).status, 401);
  EXPECT_EQ(Get(query, "/api/services", kToken, CaArgs()).status, 200);
  // The built-in UI's files hold no data and load without the token (the page's API calls need
  // it); a daemon built without the UI answers its page saying so, also without the token.
  for (const std::string path : {"/", "/trace/4bf92f3577b34da6a3ce929d0e0e4736"}) {
    r = Get(query, path, "", CaArgs());
    EXPECT_EQ(r.status, TAILTRACE_BUILD_UI ? 200 : 404) << path << ": " << r.body;
    EXPECT_NE(r.body.find("<html"), std::string::npos) << path << ": " << r.body;
  }
  EXPECT_EQ(Get(query, "/api/cluster", "", CaArgs()).status, 401);
  // Plain text on a TLS port, and TLS without trusting the CA, get nowhere.
  EXPECT_EQ(Curl({Url(query, "/api/services", /*tls=*/false)}).status, 0);
  EXPECT_NE(Curl({Url(query, "/api/services")}).exit_code, 0);

  // Admin: /healthz and /readyz stay open, /metrics needs the token.
  EXPECT_EQ(Get(admin, "/healthz", "", CaArgs()).status, 200);
  EXPECT_EQ(Get(admin, "/readyz", "", CaArgs()).status, 200);
  EXPECT_EQ(Get(admin, "/metrics", "", CaArgs()).status, 401);
  EXPECT_EQ(Get(admin, "/metrics", kToken, CaArgs()).status, 200);

  // OTLP/HTTP: refused without the token, accepted with it.
  ExportTraceServiceRequest request;
  AddTrace(&request, 101, 4, "tls-http");
  const std::string body_file = dir_->Join("request.pb");
  WriteFileAtomically(body_file, request.SerializeAsString());
  std::vector<std::string> post = CaArgs();
  post.insert(post.end(), {"-H", "Content-Type: application/x-protobuf", "--data-binary",
                           "@" + body_file, Url(http, "/v1/traces")});
  EXPECT_EQ(Curl(post).status, 401);
  EXPECT_EQ(Curl(WithToken(post, kToken)).status, 200);

  // OTLP/gRPC over TLS: UNAUTHENTICATED without the token, OK with it.
  TlsGrpcClient grpc_client(daemon_->grpc_port(), pki_, /*client_cert=*/false);
  EXPECT_EQ(grpc_client.Export(102, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(grpc_client.Export(102, "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status ok = grpc_client.Export(102, kToken);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  // An insecure channel cannot talk to the TLS port.
  OtlpGrpcClient insecure(daemon_->grpc_target());
  ExportTraceServiceResponse response;
  EXPECT_NE(insecure.Export(request, &response, false, 2'000).error_code(), grpc::StatusCode::OK);

  // Both traces are read back over TLS with the token.
  for (uint64_t trace : {101, 102}) {
    const std::string path = "/api/traces/" + Hex(TraceIdBytes(trace));
    CurlResult got;
    for (int i = 0; i < 500 && got.status != 200; ++i) {
      got = Get(query, path, kToken, CaArgs());
      if (got.status != 200) ::usleep(20'000);
    }
    EXPECT_EQ(got.status, 200) << "trace " << trace << ": " << got.body;
  }
}

TEST_F(SecurityTest, MutualTlsRefusesClientsWithoutCertificate) {
  ListenerYaml yaml;
  yaml.grpc = TlsYaml(pki_, 8, /*mtls=*/true);
  yaml.http = TlsYaml(pki_, 8, /*mtls=*/true);
  ASSERT_NO_FATAL_FAILURE(Start(yaml));
  const std::string path = "/v1/traces";
  std::vector<std::string> post = {"-H", "Content-Type: application/json", "-d",
                                   "{\"resourceSpans\":[]}"};
  std::vector<std::string> without = CaArgs();
  without.insert(without.end(), post.begin(), post.end());
  without.push_back(Url(daemon_->http_port(), path));
  const CurlResult refused = Curl(without);
  EXPECT_EQ(refused.status, 0) << refused.body;
  EXPECT_NE(refused.exit_code, 0);
  std::vector<std::string> with = ClientCertArgs();
  with.insert(with.end(), post.begin(), post.end());
  with.push_back(Url(daemon_->http_port(), path));
  EXPECT_EQ(Curl(with).status, 200);

  EXPECT_EQ(TlsGrpcClient(daemon_->grpc_port(), pki_, false).Export(201, "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  grpc::Status ok = TlsGrpcClient(daemon_->grpc_port(), pki_, true).Export(202, "");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
}

// With reload_interval the gRPC receiver serves through gRPC's file watcher.
TEST_F(SecurityTest, GrpcTlsWithReloadIntervalServes) {
  ListenerYaml yaml;
  yaml.grpc = TlsYaml(pki_, 8, /*mtls=*/true, "          reload_interval: 1s\n");
  ASSERT_NO_FATAL_FAILURE(Start(yaml));
  grpc::Status ok = TlsGrpcClient(daemon_->grpc_port(), pki_, true).Export(401, "");
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(TlsGrpcClient(daemon_->grpc_port(), pki_, false).Export(402, "").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, TokenFileChangesArePickedUp) {
  ASSERT_NO_FATAL_FAILURE(Start(Everything(/*mtls=*/false)));
  TlsGrpcClient grpc_client(daemon_->grpc_port(), pki_, false);
  ASSERT_EQ(Get(daemon_->query_port(), "/api/services", kToken, CaArgs()).status, 200);

  WriteFileAtomically(token_file_, "new-token\nanother-token # not a comment\n");
  EXPECT_EQ(Get(daemon_->query_port(), "/api/services", kToken, CaArgs()).status, 401);
  EXPECT_EQ(Get(daemon_->query_port(), "/api/services", "new-token", CaArgs()).status, 200);
  EXPECT_EQ(Get(daemon_->admin_port(), "/metrics", "new-token", CaArgs()).status, 200);
  EXPECT_EQ(grpc_client.Export(301, kToken).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(grpc_client.Export(302, "new-token").ok());

  // A file that became empty keeps the tokens read before.
  WriteFileAtomically(token_file_, "# nothing\n");
  EXPECT_EQ(Get(daemon_->query_port(), "/api/services", "new-token", CaArgs()).status, 200);
}

TEST_F(SecurityTest, MissingTokenFileIsAStartupError) {
  const std::string missing = dir_->Join("no-such-tokens");
  ListenerYaml yaml;
  yaml.query = AuthYaml(missing, 2);
  const std::string config = dir_->Join("missing-token.yaml");
  WriteFileAtomically(config, Config(dir_->Join("data"), yaml));
  absl::StatusOr<RunResult> run = RunTailtraced({"--config", config}, dir_->path());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_NE(run->exit_code, 0);
  EXPECT_NE(run->stderr_text.find(missing), std::string::npos) << run->stderr_text;
}

TEST_F(SecurityTest, CorsPreflightAndHeaders) {
  ListenerYaml yaml;
  yaml.http =
      "        cors:\n          allowed_origins: [\"https://*.example.com\"]\n"
      "          allowed_headers: [Authorization]\n          max_age: 600\n";
  ASSERT_NO_FATAL_FAILURE(Start(yaml));
  const std::string url = Url(daemon_->http_port(), "/v1/traces", /*tls=*/false);
  const std::vector<std::string> preflight = {
      "-X", "OPTIONS",
      "-H", "Access-Control-Request-Method: POST",
      "-H", "Access-Control-Request-Headers: content-type, authorization, x-secret"};

  std::vector<std::string> allowed = preflight;
  allowed.insert(allowed.end(), {"-H", "Origin: https://app.example.com", url});
  CurlResult r = Curl(allowed);
  EXPECT_EQ(r.status, 204);
  EXPECT_NE(r.headers.find("Access-Control-Allow-Origin: https://app.example.com"),
            std::string::npos)
      << r.headers;
  EXPECT_NE(r.headers.find("Access-Control-Allow-Headers: content-type, authorization\r"),
            std::string::npos)
      << r.headers;
  EXPECT_NE(r.headers.find("Access-Control-Max-Age: 600"), std::string::npos) << r.headers;

  std::vector<std::string> denied = preflight;
  denied.insert(denied.end(), {"-H", "Origin: https://example.com.evil.org", url});
  r = Curl(denied);
  EXPECT_EQ(r.headers.find("Access-Control-Allow-Origin"), std::string::npos) << r.headers;

  // A simple request from an allowed origin gets the header; the query API (no cors) never.
  r = Curl({"-H", "Origin: https://app.example.com", "-H", "Content-Type: application/json", "-d",
            "{\"resourceSpans\":[]}", url});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Access-Control-Allow-Origin: https://app.example.com"),
            std::string::npos);
  r = Curl({"-H", "Origin: https://app.example.com",
            Url(daemon_->query_port(), "/api/services", false)});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.find("Access-Control-"), std::string::npos) << r.headers;
}

// A connected TCP socket to 127.0.0.1:port, or -1.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer closes `fd` within `timeout_ms` (read returns 0 or an error).
bool ClosedByPeer(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char c;
  return ::read(fd, &c, 1) <= 0;
}

TEST_F(SecurityTest, MaxConnectionsEnforced) {
  ListenerYaml yaml;
  yaml.query = "  max_connections: 2\n";
  ASSERT_NO_FATAL_FAILURE(Start(yaml));
  const int port = daemon_->query_port();
  const int a = Connect(port);
  const int b = Connect(port);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  // The two are served (an exchange on each proves they are registered).
  for (int fd : {a, b}) {
    const std::string req = "GET /api/services HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    char buf[512];
    ASSERT_GT(::read(fd, buf, sizeof(buf)), 0);
  }
  const int c = Connect(port);
  ASSERT_GE(c, 0);
  EXPECT_TRUE(ClosedByPeer(c, 5'000));
  ::close(c);
  std::optional<double> refused = WaitForMetric(
      daemon_->admin_port(),
      "tailtrace_http_refused_total{listener=\"query\",reason=\"max_connections\"}", 1);
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(
      WaitForMetric(daemon_->admin_port(), "tailtrace_http_connections{listener=\"query\"}", 2), 2);
  // Once one closes, a new connection is served again.
  ::close(a);
  ASSERT_TRUE(
      WaitForMetric(daemon_->admin_port(), "tailtrace_http_connections{listener=\"query\"}", 0)
          .has_value());
  CurlResult r;
  for (int i = 0; i < 100 && r.status != 200; ++i) {
    r = Curl({Url(port, "/api/services", false)});
    if (r.status != 200) ::usleep(20'000);
  }
  EXPECT_EQ(r.status, 200);
  ::close(b);
}

TEST_F(SecurityTest, HttpCertificateReloadedWhenFilesChange) {
  ListenerYaml yaml;
  yaml.query = TlsYaml(pki_, 2, false, "    reload_interval: 1ms\n");
  ASSERT_NO_FATAL_FAILURE(Start(yaml));
  const int port = daemon_->query_port();
  ASSERT_EQ(Get(port, "/api/services", "", CaArgs()).status, 200);
  absl::StatusOr<TestPki> other = MakeTestPki(dir_->path(), "b");
  ASSERT_TRUE(other.ok()) << other.status();
  WriteFileAtomically(pki_.server_key, ReadFileOrEmpty(other->server_key));
  WriteFileAtomically(pki_.server_cert, ReadFileOrEmpty(other->server_cert));
  CurlResult r;
  for (int i = 0; i < 100 && r.status != 200; ++i) {
    r = Get(port, "/api/services", "", {"--cacert", other->ca_cert});
    if (r.status != 200) ::usleep(20'000);
  }
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(Get(port, "/api/services", "", CaArgs()).exit_code, 0);
}

}  // namespace
}  // namespace tailtrace::testing
