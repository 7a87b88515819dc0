// The deployment examples agree with the configs they embed: every Kubernetes manifest in
// deploy/kubernetes/ (each tailtraced container's config, read through its --config flag, mount
// and ConfigMap, parses with the real parser; ports, probes, Services, volumes, security context
// and cluster membership match that config), and deploy/docker/tailtrace.yaml with the Dockerfile.

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "config/config.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace tailtrace::config {
namespace {

// What the downward API gives the containers in these tests.
constexpr char kPodIp[] = "10.1.2.3";
constexpr char kNamespace[] = "observability";

std::string SourceDir() {
  const char* dir = std::getenv("TAILTRACE_SOURCE_DIR");
  return dir != nullptr ? dir : TAILTRACE_SOURCE_DIR_FALLBACK;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> KubernetesFiles() {
  std::vector<std::string> names;
  for (const auto& entry :
       std::filesystem::directory_iterator(SourceDir() + "/deploy/kubernetes")) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// yaml-cpp throws on a key of a missing node, and `a = b` writes b's content into a's node (use
// reset), so documents are read only through these.

// The node at `keys` under `node`; an undefined node (false) when any is missing.
YAML::Node Get(const YAML::Node& node, std::initializer_list<std::string_view> keys) {
  if (!node) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node at;
  at.reset(node);
  for (std::string_view key : keys) {
    if (!at || !at.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = at;
    YAML::Node next = map[std::string(key)];
    if (!next) return YAML::Node(YAML::NodeType::Undefined);
    at.reset(next);
  }
  return at;
}

// The items of a sequence; none when `node` is not one.
std::vector<YAML::Node> Items(const YAML::Node& node) {
  std::vector<YAML::Node> out;
  if (node && node.IsSequence()) {
    for (const YAML::Node& item : node) out.push_back(item);
  }
  return out;
}

std::string Scalar(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : ""; }

std::string Scalar(const YAML::Node& node, std::initializer_list<std::string_view> keys) {
  return Scalar(Get(node, keys));
}

std::optional<int> Int(const YAML::Node& node) {
  int value = 0;
  if (!absl::SimpleAtoi(Scalar(node), &value)) return std::nullopt;
  return value;
}

// "host:port" -> port; "[::1]:4317" -> 4317.
int PortOf(const std::string& endpoint) {
  int port = -1;
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(endpoint.substr(colon + 1), &port)) {
    ADD_FAILURE() << "not host:port: " << endpoint;
  }
  return port;
}

std::string HostOf(const std::string& endpoint) {
  std::string host = endpoint.substr(0, endpoint.rfind(':'));
  if (absl::StartsWith(host, "[")) host = host.substr(1, host.size() - 2);
  return host;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || absl::StartsWith(host, "127.") || host == "::1";
}

// Whether `path` is `dir` or inside it.
bool Covers(const std::string& dir, const std::string& path) {
  if (dir.empty() || !absl::StartsWith(path, dir)) return false;
  return path.size() == dir.size() || dir.back() == '/' || path[dir.size()] == '/';
}

// A server of the daemon: its config key and endpoint.
struct Listener {
  std::string key;
  std::string endpoint;
};

std::vector<Listener> Listeners(const DaemonConfig& config) {
  std::vector<Listener> out;
  if (config.grpc.enabled) out.push_back({"receivers.otlp.protocols.grpc", config.grpc.endpoint});
  if (config.http.enabled) out.push_back({"receivers.otlp.protocols.http", config.http.endpoint});
  out.push_back({"query", config.query.endpoint});
  out.push_back({"admin", config.admin.endpoint});
  return out;
}

// Every file the config names, with its key.
std::vector<std::pair<std::string, std::string>> ConfiguredFiles(const DaemonConfig& config) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&out](const std::string& key, const std::string& path) {
    if (!path.empty()) out.emplace_back(key, path);
  };
  auto add_security = [&add](const std::string& key, const security::ListenerSecurity& s) {
    add(key + ".tls.cert_file", s.tls.cert_file);
    add(key + ".tls.key_file", s.tls.key_file);
    add(key + ".tls.client_ca_file", s.tls.client_ca_file);
    add(key + ".auth.bearer_token_file", s.auth.bearer_token_file);
  };
  add_security("receivers.otlp.protocols.grpc", config.grpc.security);
  add_security("receivers.otlp.protocols.http", config.http.security);
  add_security("query", config.query.security);
  add_security("admin", config.admin.security);
  add("cluster.tls.ca_file", config.cluster.tls.ca_file);
  add("cluster.tls.cert_file", config.cluster.tls.cert_file);
  add("cluster.tls.key_file", config.cluster.tls.key_file);
  return out;
}

// The documents of one manifest file, by kind.
struct Manifest {
  std::string file;
  std::map<std::string, YAML::Node> config_maps;  // by name
  std::vector<YAML::Node> services;
  std::vector<YAML::Node> workloads;  // Deployment, StatefulSet, DaemonSet
};

Manifest LoadManifest(const std::string& file) {
  Manifest m{file, {}, {}, {}};
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAllFromFile(SourceDir() + "/deploy/kubernetes/" + file);
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << file << ": " << e.what();
  }
  for (const YAML::Node& doc : documents) {
    if (!doc.IsMap()) continue;
    const std::string kind = Scalar(doc, {"kind"});
    const std::string name = Scalar(doc, {"metadata", "name"});
    EXPECT_FALSE(name.empty()) << file << ": a " << kind << " without metadata.name";
    if (kind == "ConfigMap") m.config_maps.emplace(name, doc);
    if (kind == "Service") m.services.push_back(doc);
    if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet") {
      m.workloads.push_back(doc);
    }
  }
  return m;
}

// Whether `service` selects the pods of `workload`.
bool Selects(const YAML::Node& service, const YAML::Node& workload) {
  const YAML::Node selector = Get(service, {"spec", "selector"});
  const YAML::Node labels = Get(workload, {"spec", "template", "metadata", "labels"});
  if (!selector || !selector.IsMap() || selector.size() == 0) return false;
  for (const auto& kv : selector) {
    if (Scalar(labels, {kv.first.Scalar()}) != Scalar(kv.second)) return false;
  }
  return true;
}

// One tailtraced container of a workload, checked against the config it reads.
class ContainerCheck {
 public:
  ContainerCheck(const Manifest& manifest, const YAML::Node& workload, const YAML::Node& container)
      : manifest_(manifest),
        workload_(workload),
        pod_(Get(workload, {"spec", "template", "spec"})),
        container_(container),
        where_(manifest.file + ": " + Scalar(workload, {"kind"}) + " " +
               Scalar(workload, {"metadata", "name"}) + ", container " +
               Scalar(container, {"name"})) {}

  void Run() {
    std::optional<DaemonConfig> config = LoadConfig();
    if (!config) return;
    CheckPorts(*config);
    CheckProbes(*config);
    CheckServices();
    CheckVolumes(*config);
    CheckSecurityContext();
    CheckCluster(*config);
  }

 private:
  // The config the container reads: --config PATH, the mount covering PATH, its ConfigMap.
  std::optional<DaemonConfig> LoadConfig() {
    std::string path;
    const std::vector<YAML::Node> args = Items(container_["args"]);
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string arg = Scalar(args[i]);
      if (arg == "--config" && i + 1 < args.size()) path = Scalar(args[i + 1]);
      if (absl::StartsWith(arg, "--config=")) path = arg.substr(9);
    }
    if (path.empty()) {
      ADD_FAILURE() << where_ << ": no --config argument";
      return std::nullopt;
    }
    const std::optional<YAML::Node> mount = MountCovering(path, "--config");
    if (!mount) return std::nullopt;
    const std::string map_name = Scalar(Volume(Scalar(*mount, {"name"})), {"configMap", "name"});
    auto map = manifest_.config_maps.find(map_name);
    if (map == manifest_.config_maps.end()) {
      ADD_FAILURE() << where_ << ": --config " << path << " is not in a ConfigMap of the file";
      return std::nullopt;
    }
    const std::string key = path.substr(Scalar(*mount, {"mountPath"}).size() + 1);
    const std::string yaml = Scalar(map->second, {"data", key});
    if (yaml.empty()) {
      ADD_FAILURE() << where_ << ": ConfigMap " << map_name << " has no key " << key;
      return std::nullopt;
    }
    absl::StatusOr<DaemonConfig> config =
        ParseConfig(yaml, manifest_.file + " ConfigMap " + map_name, Env());
    if (!config.ok()) {
      ADD_FAILURE() << where_ << ": " << config.status();
      return std::nullopt;
    }
    return *std::move(config);
  }

  // The container's environment, the downward API's fields filled in; only these are set.
  EnvLookup Env() const {
    std::map<std::string, std::string> vars;
    for (const YAML::Node& var : Items(container_["env"])) {
      const std::string field = Scalar(var, {"valueFrom", "fieldRef", "fieldPath"});
      std::string value = Scalar(var, {"value"});
      if (field == "status.podIP") value = kPodIp;
      if (field == "metadata.namespace") value = kNamespace;
      if (field == "metadata.name") value = Scalar(workload_, {"metadata", "name"}) + "-0";
      vars[Scalar(var, {"name"})] = value;
    }
    return [vars](std::string_view name) -> std::optional<std::string> {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }

  // Container ports by name (unnamed ones under "").
  std::multimap<std::string, int> NamedPorts() const {
    std::multimap<std::string, int> out;
    for (const YAML::Node& port : Items(container_["ports"])) {
      out.emplace(Scalar(port, {"name"}), Int(Get(port, {"containerPort"})).value_or(-1));
    }
    return out;
  }

  std::set<int> PortNumbers() const {
    std::set<int> out;
    for (const auto& [name, port] : NamedPorts()) out.insert(port);
    return out;
  }

  // A probe's or Service's port (a number or a container port's name) as a number; -1 for a name
  // that is no container port's.
  int ResolvePort(const YAML::Node& port) const {
    if (std::optional<int> number = Int(port)) return *number;
    const std::multimap<std::string, int> named = NamedPorts();
    auto it = named.find(Scalar(port));
    return it == named.end() || Scalar(port).empty() ? -1 : it->second;
  }

  // Every listener reachable from outside the pod has a container port, and every container port
  // is a listener's.
  void CheckPorts(const DaemonConfig& config) {
    const std::set<int> container_ports = PortNumbers();
    std::set<int> listening;
    std::vector<std::string> described;
    for (const Listener& l : Listeners(config)) {
      described.push_back(l.key + " " + l.endpoint);
      if (IsLoopback(HostOf(l.endpoint))) continue;
      const int port = PortOf(l.endpoint);
      listening.insert(port);
      EXPECT_TRUE(container_ports.count(port))
          << where_ << ": " << l.key << ".endpoint " << l.endpoint << " has no containerPort";
    }
    for (int port : container_ports) {
      EXPECT_TRUE(listening.count(port))
          << where_ << ": containerPort " << port << " is none of the configured listeners ("
          << absl::StrJoin(described, ", ") << ")";
    }
  }

  // Probes ask the admin endpoint: /readyz for readiness, /healthz for liveness and startup.
  void CheckProbes(const DaemonConfig& config) {
    EXPECT_TRUE(container_["readinessProbe"]) << where_ << ": no readinessProbe";
    const int admin_port = PortOf(config.admin.endpoint);
    const std::string scheme = config.admin.security.tls.enabled() ? "HTTPS" : "HTTP";
    for (const auto& [probe, path] :
         {std::pair{"readinessProbe", "/readyz"}, std::pair{"livenessProbe", "/healthz"},
          std::pair{"startupProbe", "/healthz"}}) {
      if (!container_[probe]) continue;
      const YAML::Node get = Get(container_, {probe, "httpGet"});
      EXPECT_TRUE(get) << where_ << ": " << probe << " is not an httpGet";
      EXPECT_EQ(Scalar(get, {"path"}), path) << where_ << ": " << probe;
      EXPECT_EQ(ResolvePort(Get(get, {"port"})), admin_port)
          << where_ << ": " << probe << " port " << Scalar(get, {"port"})
          << " is not admin.endpoint's (" << config.admin.endpoint << ")";
      const std::string probe_scheme = Scalar(get, {"scheme"});
      EXPECT_EQ(probe_scheme.empty() ? "HTTP" : probe_scheme, scheme) << where_ << ": " << probe;
    }
  }

  // Every port of a Service selecting these pods reaches a container port.
  void CheckServices() {
    const std::set<int> container_ports = PortNumbers();
    for (const YAML::Node& service : manifest_.services) {
      if (!Selects(service, workload_)) continue;
      for (const YAML::Node& port : Items(Get(service, {"spec", "ports"}))) {
        const YAML::Node target =
            port["targetPort"] ? Get(port, {"targetPort"}) : Get(port, {"port"});
        EXPECT_TRUE(container_ports.count(ResolvePort(target)))
            << where_ << ": Service " << Scalar(service, {"metadata", "name"}) << " targetPort "
            << Scalar(target) << " is not a container port";
      }
    }
  }

  // The store (and write-ahead log) is on a writable volume (a PersistentVolumeClaim, or an
  // emptyDir for a sidecar), and every file the config names is mounted.
  void CheckVolumes(const DaemonConfig& config) {
    std::vector<std::pair<std::string, std::string>> dirs;
    if (config.storage_enabled) dirs.emplace_back("storage.path", config.storage.path);
    if (!config.sampling.durability.wal_dir.empty()) {
      dirs.emplace_back("wal.path", config.sampling.durability.wal_dir);
    }
    for (const auto& [key, dir] : dirs) {
      const std::optional<YAML::Node> mount = MountCovering(dir, key);
      if (!mount) continue;
      EXPECT_NE(Scalar(*mount, {"readOnly"}), "true")
          << where_ << ": " << key << " is mounted read-only";
      const std::string name = Scalar(*mount, {"name"});
      const YAML::Node volume = Volume(name);
      EXPECT_TRUE(ClaimTemplate(name) || volume["persistentVolumeClaim"] || volume["emptyDir"])
          << where_ << ": " << key << " " << dir << " is on volume " << name
          << ", neither a PersistentVolumeClaim nor an emptyDir";
    }
    for (const auto& [key, path] : ConfiguredFiles(config)) MountCovering(path, key);
  }

  // Runs as a non-root user (enforced by runAsNonRoot), on a read-only root file system, without
  // capabilities.
  void CheckSecurityContext() {
    auto effective = [this](std::string_view key) {
      const YAML::Node own = Get(container_, {"securityContext", key});
      return own ? own : Get(pod_, {"securityContext", key});
    };
    // The image's USER is a name, which the kubelet cannot check against runAsNonRoot: the
    // container would not start without a numeric runAsUser.
    const std::optional<int> user = Int(effective("runAsUser"));
    EXPECT_TRUE(user && *user != 0) << where_ << ": runAsUser is not a non-root user id";
    EXPECT_EQ(Scalar(effective("runAsNonRoot")), "true") << where_ << ": runAsNonRoot";
    EXPECT_EQ(Scalar(container_, {"securityContext", "readOnlyRootFilesystem"}), "true") << where_;
    EXPECT_EQ(Scalar(container_, {"securityContext", "allowPrivilegeEscalation"}), "false")
        << where_;
    bool drops_all = false;
    for (const YAML::Node& cap :
         Items(Get(container_, {"securityContext", "capabilities", "drop"}))) {
      drops_all |= Scalar(cap) == "ALL";
    }
    EXPECT_TRUE(drops_all) << where_ << ": securityContext.capabilities.drop has no ALL";
  }

  // A member is named by its pod IP and gRPC port; the DNS name is the headless Service that
  // selects these pods, in their namespace, on the members' port.
  void CheckCluster(const DaemonConfig& config) {
    const cluster::ClusterOptions& c = config.cluster;
    if (!c.enabled()) return;
    const int grpc_port = PortOf(config.grpc.endpoint);
    EXPECT_EQ(c.self, std::string(kPodIp) + ":" + std::to_string(grpc_port))
        << where_ << ": cluster.self is not the pod IP and the gRPC receiver's port";
    if (!c.dns.enabled()) return;
    const std::vector<std::string> labels = absl::StrSplit(c.dns.name, '.');
    const std::string& name = labels[0];
    const YAML::Node* headless = nullptr;
    for (const YAML::Node& service : manifest_.services) {
      if (Scalar(service, {"metadata", "name"}) == name) headless = &service;
    }
    ASSERT_NE(headless, nullptr) << where_ << ": cluster.peers.dns.name " << c.dns.name
                                 << " names no Service of the file";
    EXPECT_TRUE(Selects(*headless, workload_)) << where_ << ": Service " << name;
    EXPECT_EQ(Scalar(*headless, {"spec", "clusterIP"}), "None") << where_ << ": Service " << name;
    EXPECT_EQ(Scalar(*headless, {"spec", "publishNotReadyAddresses"}), "true")
        << where_ << ": Service " << name << " must list starting pods";
    if (labels.size() > 1) {
      EXPECT_EQ(labels[1], kNamespace)
          << where_ << ": " << c.dns.name << " is not the pod's namespace";
    }
    bool has_port = false;
    for (const YAML::Node& port : Items(Get(*headless, {"spec", "ports"}))) {
      has_port |= Int(Get(port, {"port"})) == c.dns.port;
    }
    EXPECT_TRUE(has_port) << where_ << ": Service " << name << " has no port " << c.dns.port
                          << " (cluster.peers.dns.port)";
    EXPECT_EQ(c.dns.port, grpc_port)
        << where_ << ": cluster.peers.dns.port is not the gRPC receiver's port";
    if (Scalar(workload_, {"kind"}) == "StatefulSet") {
      EXPECT_EQ(Scalar(workload_, {"spec", "serviceName"}), name) << where_ << ": serviceName";
    }
  }

  // The container's volumeMount whose mountPath covers `path` (the deepest); a failure naming
  // `key` when there is none.
  std::optional<YAML::Node> MountCovering(const std::string& path, const std::string& key) const {
    std::optional<YAML::Node> best;
    for (const YAML::Node& mount : Items(container_["volumeMounts"])) {
      const std::string dir = Scalar(mount, {"mountPath"});
      if (Covers(dir, path) && (!best || dir.size() > Scalar(*best, {"mountPath"}).size())) {
        best.emplace(mount);
      }
    }
    if (!best) ADD_FAILURE() << where_ << ": no volumeMount covers " << key << " " << path;
    return best;
  }

  YAML::Node Volume(const std::string& name) const {
    for (const YAML::Node& volume : Items(pod_["volumes"])) {
      if (Scalar(volume, {"name"}) == name) return volume;
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  bool ClaimTemplate(const std::string& name) const {
    for (const YAML::Node& claim : Items(Get(workload_, {"spec", "volumeClaimTemplates"}))) {
      if (Scalar(claim, {"metadata", "name"}) == name) return true;
    }
    return false;
  }

  const Manifest& manifest_;
  const YAML::Node workload_;
  const YAML::Node pod_;
  const YAML::Node container_;
  const std::string where_;
};

class KubernetesManifestTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KubernetesManifestTest, ContainersAgreeWithTheirConfig) {
  const Manifest manifest = LoadManifest(GetParam());
  int checked = 0;
  for (const YAML::Node& workload : manifest.workloads) {
    for (const YAML::Node& container :
         Items(Get(workload, {"spec", "template", "spec", "containers"}))) {
      if (!absl::StartsWith(Scalar(container, {"image"}), "tailtraced")) continue;
      ContainerCheck(manifest, workload, container).Run();
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << GetParam() << ": no tailtraced container";
}

TEST_P(KubernetesManifestTest, EveryServiceSelectsPodsOfTheFile) {
  const Manifest manifest = LoadManifest(GetParam());
  for (const YAML::Node& service : manifest.services) {
    bool selects = false;
    for (const YAML::Node& workload : manifest.workloads) selects |= Selects(service, workload);
    EXPECT_TRUE(selects) << GetParam() << ": Service " << Scalar(service, {"metadata", "name"})
                         << " selects no pod of the file";
  }
}

INSTANTIATE_TEST_SUITE_P(Deploy, KubernetesManifestTest, ::testing::ValuesIn(KubernetesFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

// The cluster example: 3 members, each with a store of its own, the probes a member needs, and
// TLS between members.
TEST(ClusterManifestTest, IsAStatefulSetOfThreeMembersWithAVolumeEach) {
  const Manifest manifest = LoadManifest("cluster.yaml");
  ASSERT_EQ(manifest.workloads.size(), 1u);
  const YAML::Node& set = manifest.workloads[0];
  EXPECT_EQ(Scalar(set, {"kind"}), "StatefulSet");
  EXPECT_EQ(Scalar(set, {"spec", "replicas"}), "3");
  EXPECT_EQ(Items(Get(set, {"spec", "volumeClaimTemplates"})).size(), 1u);
  const std::vector<YAML::Node> containers =
      Items(Get(set, {"spec", "template", "spec", "containers"}));
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_TRUE(containers[0]["livenessProbe"]);
  EXPECT_TRUE(containers[0]["startupProbe"]);
  EXPECT_TRUE(Get(containers[0], {"resources", "requests", "memory"}));
  EXPECT_TRUE(Get(containers[0], {"resources", "limits", "memory"}));

  ASSERT_EQ(manifest.config_maps.count("tailtraced-config"), 1u);
  const std::string yaml =
      Scalar(manifest.config_maps.at("tailtraced-config"), {"data", "tailtrace.yaml"});
  absl::StatusOr<DaemonConfig> config =
      ParseConfig(yaml, "cluster.yaml", [](std::string_view name) -> std::optional<std::string> {
        return name == "POD_IP" ? kPodIp : kNamespace;
      });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->cluster.dns.enabled());
  EXPECT_TRUE(config->cluster.tls.enabled);
  EXPECT_FALSE(config->cluster.tls.ca_file.empty());
  EXPECT_FALSE(config->cluster.tls.server_name.empty());
  EXPECT_TRUE(config->grpc.security.auth.enabled());
}

// The image's config: the Dockerfile exposes its ports, checks its admin port, copies it where its
// CMD reads it, and declares the store's directory a volume.
TEST(DockerTest, DockerfileAgreesWithTheImageConfig) {
  absl::StatusOr<DaemonConfig> config =
      LoadConfigFile(SourceDir() + "/deploy/docker/tailtrace.yaml",
                     [](std::string_view) { return std::optional<std::string>(); });
  ASSERT_TRUE(config.ok()) << config.status();
  std::set<int> listening;
  for (const Listener& l : Listeners(*config)) listening.insert(PortOf(l.endpoint));

  std::set<int> exposed;
  std::string volume;
  std::string healthcheck;
  std::string copied_to;
  std::string cmd;
  std::istringstream dockerfile(ReadFile(SourceDir() + "/Dockerfile"));
  for (std::string line; std::getline(dockerfile, line);) {
    const std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (words.empty()) continue;
    if (words[0] == "EXPOSE") {
      for (size_t i = 1; i < words.size(); ++i) {
        int port = 0;
        EXPECT_TRUE(absl::SimpleAtoi(words[i], &port)) << line;
        exposed.insert(port);
      }
    }
    if (words[0] == "VOLUME") volume = line;
    if (words[0] == "HEALTHCHECK") healthcheck = line;
    if (words[0] == "CMD") cmd = line;
    if (words[0] == "COPY" && words.size() == 3 && words[1] == "deploy/docker/tailtrace.yaml") {
      copied_to = words[2];
    }
  }
  EXPECT_EQ(exposed, listening);
  EXPECT_TRUE(absl::StrContains(healthcheck, "/" + std::to_string(PortOf(config->admin.endpoint))))
      << healthcheck;
  EXPECT_FALSE(copied_to.empty());
  EXPECT_TRUE(absl::StrContains(cmd, "\"" + copied_to + "\"")) << cmd;
  EXPECT_TRUE(absl::StrContains(volume, "\"/var/lib/tailtrace\"")) << volume;
  EXPECT_TRUE(Covers("/var/lib/tailtrace", config->storage.path)) << config->storage.path;
}

}  // namespace
}  // namespace tailtrace::config
