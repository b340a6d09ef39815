// Certificates generated at test time (never checked in): a CA and a server certificate for
// 127.0.0.1 / localhost, and an unrelated CA for "a certificate the client must reject".
#pragma once

#include <string>
#include <vector>

namespace crashdiag::fake {

struct CertBundle {
  std::string ca_pem;
  std::string cert_pem;  // server certificate, signed by the CA
  std::string key_pem;
};

// subject_alt_names like {"IP:127.0.0.1", "DNS:localhost"}.
[[nodiscard]] CertBundle make_cert_bundle(const std::vector<std::string>& subject_alt_names,
                                          const std::string& ca_name = "crashdiag-test-ca");

}  // namespace crashdiag::fake
