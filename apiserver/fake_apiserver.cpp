// The public FakeApiServer: start-up (certificates, the listening socket, the io thread), the
// kubeconfig, and the methods tests and the demo use to read and change the object store
// (FakeApiServer::Impl, fake_internal.hpp). Requests are served by fake_server.cpp.
#include "fake_apiserver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api_status.hpp"
#include "crd_schema.hpp"
#include "fake_internal.hpp"
#include "resources.hpp"
#include "test_certs.hpp"

namespace crashdiag::fake {

using detail::accept_loop;
using detail::base64_encode;
using detail::key_of;
using detail::validate_object;

FakeApiServer::FakeApiServer(FakeOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->options = options_;
  impl_->registry = std::make_unique<ResourceRegistry>(load_crd(options_.crd_path));
  impl_->started = impl_->now();
  CertBundle served = make_cert_bundle(options_.subject_alt_names);
  trusted_ca_pem_ = served.ca_pem;
  if (options_.serve_untrusted_certificate) served = make_cert_bundle(options_.subject_alt_names, "some-other-ca");
  impl_->tls.use_certificate_chain(asio::buffer(served.cert_pem));
  impl_->tls.use_private_key(asio::buffer(served.key_pem), ssl::context::pem);
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, accept_loop(*impl_, port_), asio::detached);
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

FakeApiServer::~FakeApiServer() {
  impl_->ioc.stop();
  thread_.join();
}

std::string FakeApiServer::write_kubeconfig(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write the kubeconfig " + path);
  const std::string ca_b64 = base64_encode(trusted_ca_pem_, false);
  out << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
      << "clusters:\n- name: fake\n  cluster:\n    server: " << url() << "\n    certificate-authority-data: " << ca_b64
      << "\n"
      << "contexts:\n- name: fake\n  context: {cluster: fake, user: fake}\n"
      << "users:\n- name: fake\n  user:\n";
  if (!options_.token_file.empty()) {
    out << "    tokenFile: " << options_.token_file << "\n";
  } else {
    out << "    token: " << options_.token << "\n";
  }
  out.close();
  if (!out) throw std::runtime_error("cannot write the kubeconfig " + path);
  // It holds the bearer token: owner-only, as kubectl writes ~/.kube/config.
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace, ec);
  return path;
}

void FakeApiServer::apply_pod(json pod) {
  std::lock_guard lock(impl_->mu);
  const bool exists = impl_->objects["pods"].count(key_of(pod)) > 0;
  impl_->change("pods", exists ? "MODIFIED" : "ADDED", std::move(pod));
}

void FakeApiServer::delete_pod(const std::string& ns, const std::string& name) {
  delete_object("pods", ns, name);
}

void FakeApiServer::delete_object(const std::string& resource, const std::string& ns, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->objects[resource];
  auto it = store.find(ns + "/" + name);
  if (it == store.end()) return;
  json obj = it->second;
  impl_->change(resource, "DELETED", std::move(obj));
}

void FakeApiServer::add_event(json event) {
  std::lock_guard lock(impl_->mu);
  impl_->change("events", "ADDED", std::move(event));
}

void FakeApiServer::put_object(const std::string& api_prefix, const std::string& plural, json object) {
  std::lock_guard lock(impl_->mu);
  const std::string group = api_prefix.rfind("/apis/", 0) == 0 ? api_prefix.substr(6) : "";
  impl_->change(group.empty() ? plural : group + "/" + plural, "ADDED", std::move(object));
}

void FakeApiServer::add_object(json object) {
  if (!object.is_object()) throw std::invalid_argument("not a Kubernetes object: " + object.dump());
  const ResourceType* t = impl_->registry->find_kind(object.value("apiVersion", ""), object.value("kind", ""));
  if (t == nullptr) {
    throw std::invalid_argument("the fake does not serve " + object.value("apiVersion", "") + " " +
                                object.value("kind", ""));
  }
  json& meta = object["metadata"];
  if (!meta.is_object() || meta.value("name", "").empty() || (t->namespaced && meta.value("namespace", "").empty())) {
    throw std::invalid_argument(t->kind + " without metadata.name/namespace");
  }
  {
    std::lock_guard lock(impl_->mu);
    if (!meta.contains("uid")) meta["uid"] = impl_->new_uid();
  }
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = impl_->now();
  if (t->has_generation && !meta.contains("generation")) meta["generation"] = 1;
  std::vector<FieldError> errors = validate_object(*t, object, true);
  if (!errors.empty()) {
    throw std::invalid_argument(invalid_status(t->group, t->kind, meta.value("name", ""), errors)["message"]);
  }
  if (t->kind == "Pod") {
    apply_pod(std::move(object));
    return;
  }
  std::lock_guard lock(impl_->mu);
  const bool exists = impl_->objects[t->store_key()].count(key_of(object)) > 0;
  impl_->change(t->store_key(), exists ? "MODIFIED" : "ADDED", std::move(object));
}

std::vector<json> FakeApiServer::list_objects(const std::string& resource, const std::string& ns) const {
  std::lock_guard lock(impl_->mu);
  std::vector<json> out;
  auto store = impl_->objects.find(resource);
  if (store == impl_->objects.end()) return out;
  for (const auto& [key, obj] : store->second) {
    if (ns.empty() || obj["metadata"].value("namespace", "") == ns) out.push_back(obj);
  }
  return out;
}

std::optional<json> FakeApiServer::table(const std::string& api_version, const std::string& plural,
                                         const std::string& ns) const {
  const ResourceType* type = impl_->registry->find(api_version, plural);
  if (type == nullptr) return std::nullopt;
  std::vector<json> objects = list_objects(type->store_key(), ns);
  return make_table(*type, objects, "v1", "Metadata", impl_->now_seconds());
}

std::optional<json> FakeApiServer::get_object(const std::string& resource, const std::string& ns,
                                              const std::string& name) const {
  std::lock_guard lock(impl_->mu);
  auto store = impl_->objects.find(resource);
  if (store == impl_->objects.end()) return std::nullopt;
  auto it = store->second.find(ns + "/" + name);
  if (it == store->second.end()) return std::nullopt;
  return it->second;
}

void FakeApiServer::set_logs(const std::string& ns, const std::string& pod, const std::string& container, bool previous,
                             std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->logs[ns + "/" + pod + "/" + container + (previous ? "/previous" : "/current")] = std::move(text);
}

void FakeApiServer::set_namespace_state(const std::string& ns, NamespaceState state) {
  std::lock_guard lock(impl_->mu);
  if (state == NamespaceState::kActive) {
    impl_->namespace_states.erase(ns);
    return;
  }
  impl_->namespace_states[ns] = state;
  if (state != NamespaceState::kGone) return;
  for (auto& [resource, store] : impl_->objects) {
    if (resource == "namespaces") continue;
    std::vector<json> doomed;
    for (const auto& [key, obj] : store) {
      if (key.rfind(ns + "/", 0) == 0) doomed.push_back(obj);
    }
    for (auto& obj : doomed) impl_->change(resource, "DELETED", std::move(obj));
  }
}

void FakeApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->compacted_rv = impl_->rv;
  impl_->history.clear();
  impl_->wake_watches();  // a watch behind the compaction gets its 410 now
}

void FakeApiServer::inject(Fault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void FakeApiServer::close_watches() {
  impl_->close_generation++;
  std::lock_guard lock(impl_->mu);
  impl_->wake_watches();
}

void FakeApiServer::send_bookmarks() {
  impl_->bookmark_generation++;
  std::lock_guard lock(impl_->mu);
  impl_->wake_watches();
}

std::vector<std::string> FakeApiServer::awaiting_initial_events_end() const {
  std::lock_guard lock(impl_->awaiting_mu);
  return {impl_->awaiting_end.begin(), impl_->awaiting_end.end()};
}

std::size_t FakeApiServer::open_watches() const {
  return impl_->open_watches.load();
}
std::size_t FakeApiServer::connections() const {
  return impl_->connections.load();
}

std::vector<RecordedRequest> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->recorded;
}

std::uint64_t FakeApiServer::resource_version() const {
  std::lock_guard lock(impl_->mu);
  return impl_->rv;
}

json make_pod(const std::string& ns, const std::string& name, const json& container, const json& owner) {
  json pod = {{"kind", "Pod"},
              {"apiVersion", "v1"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"uid", "uid-" + ns + "-" + name},
                {"creationTimestamp", "2026-11-22T03:00:00Z"}}},
              {"spec",
               {{"containers", json::array({container})},
                {"restartPolicy", "Always"},
                {"terminationGracePeriodSeconds", 30},
                {"dnsPolicy", "ClusterFirst"},
                {"serviceAccountName", "default"},
                {"nodeName", "fake-node-1"},
                {"enableServiceLinks", true}}},
              {"status", {{"phase", "Running"}, {"containerStatuses", json::array()}}}};
  if (!owner.is_null()) pod["metadata"]["ownerReferences"] = json::array({owner});
  return pod;
}

}  // namespace crashdiag::fake
