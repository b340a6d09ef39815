#include <gtest/gtest.h>

#include <ostream>

#include "crashdiag/core/kubeconfig.hpp"

namespace crashdiag::core {
namespace {

// "hello" base64 = aGVsbG8=
constexpr const char* kConfig = R"yaml(
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: shop}
- name: eks
  context: {cluster: eks-cluster, user: eks-user}
clusters:
- name: dev-cluster
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: aGVsbG8=
- name: eks-cluster
  cluster:
    server: https://ABC.gr7.eu-west-1.eks.amazonaws.com
    certificate-authority: certs/ca.crt
    tls-server-name: kubernetes
users:
- name: dev-user
  user: {token: abc123}
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
      env: [{name: AWS_PROFILE, value: prod}]
)yaml";

TEST(Kubeconfig, CurrentContextWithInlineData) {
  auto a = parse_kubeconfig(kConfig, "/home/u/.kube/config", "");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->server, "https://127.0.0.1:6443");
  EXPECT_EQ(a->ca_pem, "hello");
  EXPECT_EQ(a->token, "abc123");
  EXPECT_EQ(a->namespace_, "shop");
  EXPECT_FALSE(a->exec);
}

TEST(Kubeconfig, ContextOverrideExecPluginAndRelativePaths) {
  auto a = parse_kubeconfig(kConfig, "/home/u/.kube/config", "eks");
  ASSERT_TRUE(a) << a.error().to_string();
  EXPECT_EQ(a->ca_file, "/home/u/.kube/certs/ca.crt");  // relative to the kubeconfig
  EXPECT_EQ(a->tls_server_name, "kubernetes");
  EXPECT_EQ(a->namespace_, "default");
  ASSERT_TRUE(a->exec);
  EXPECT_EQ(a->exec->command, "aws");  // no slash: looked up in PATH
  EXPECT_EQ(a->exec->args.size(), 4U);
  EXPECT_EQ(a->exec->env.at(0).first, "AWS_PROFILE");
}

struct BadConfig {
  const char* name;
  const char* yaml;
  const char* context;
  const char* field;
  const char* message;
};

// gtest prints parameters in test names and failures; the name says which row.
void PrintTo(const BadConfig& p, std::ostream* os) {
  *os << p.name;
}

class KubeconfigRejects : public ::testing::TestWithParam<BadConfig> {};

TEST_P(KubeconfigRejects, NamingTheFieldAndWhatToDo) {
  auto a = parse_kubeconfig(GetParam().yaml, "/k/config", GetParam().context);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().file, "/k/config");
  EXPECT_NE(a.error().field.find(GetParam().field), std::string::npos) << a.error().to_string();
  EXPECT_NE(a.error().message.find(GetParam().message), std::string::npos) << a.error().to_string();
}

INSTANTIATE_TEST_SUITE_P(
    Table, KubeconfigRejects,
    ::testing::Values(
        BadConfig{"no_current_context", "apiVersion: v1\nkind: Config\n", "", "current-context", "--context"},
        BadConfig{"unknown_context", kConfig, "staging", "--context", "\"staging\", which is not in contexts"},
        BadConfig{"missing_cluster", "current-context: a\ncontexts: [{name: a, context: {cluster: x, user: u}}]\n", "",
                  "contexts[name=a].context.cluster", "not in clusters"},
        BadConfig{
            "no_server",
            "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n",
            "", "clusters[name=c].cluster.server", "missing"},
        BadConfig{"bad_base64",
                  "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: "
                  "{server: 'https://x', certificate-authority-data: '!!notb64'}}]\n",
                  "", "certificate-authority-data", "base64"},
        BadConfig{"old_exec_api",
                  "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, "
                  "cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {apiVersion: "
                  "client.authentication.k8s.io/v1alpha1, command: x}}}]\n",
                  "", "exec.apiVersion", "not supported"},
        BadConfig{"auth_provider",
                  "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, "
                  "cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
                  "", "auth-provider", "exec plugin"},
        BadConfig{"cert_without_key",
                  "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, "
                  "cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {client-certificate: a.crt}}]\n",
                  "", "users[name=u].user", "without a key"},
        BadConfig{"not_yaml", "current-context: [", "", "line", "invalid YAML"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(InCluster, BracketsIpv6AndUsesTheServiceAccountFiles) {
  auto a = in_cluster_access("fd00::1", "443", "/var/run/secrets/kubernetes.io/serviceaccount");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->server, "https://[fd00::1]:443");
  EXPECT_EQ(a->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_FALSE(in_cluster_access("", "", "/x"));
}

TEST(Base64, DecodesAndRejects) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVs\nbG8"), "hello");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("a$b"));
  EXPECT_FALSE(base64_decode("aGVsbG8=x"));
}

TEST(ExecCredential, ParsesTokenAndExpiry) {
  auto c = parse_exec_credential(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
    "status":{"token":"k8s-aws-v1.abc","expirationTimestamp":"2026-11-22T05:00:00Z"}})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->token, "k8s-aws-v1.abc");
  EXPECT_EQ(c->expiration, "2026-11-22T05:00:00Z");
  EXPECT_FALSE(parse_exec_credential("not json"));
  EXPECT_FALSE(parse_exec_credential(R"({"kind":"ExecCredential","status":{}})"));
}

}  // namespace
}  // namespace crashdiag::core
