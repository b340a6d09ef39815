#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace crashdiag {

// `crashdiag rules test DIR...`: loads the packs and runs every example; prints failures the
// way `promtool test rules` does. Exit 0 all pass, 1 a failure, 2 the packs do not load.
[[nodiscard]] int run_rules_test(const std::vector<std::string>& dirs, std::ostream& out, std::ostream& err);

// `crashdiag rules list`: id, category, confidence, source file and title of every rule the daemon
// would load: the built-in packs (unless `include_builtin` is false) and the directories.
[[nodiscard]] int run_rules_list(const std::vector<std::string>& dirs, bool include_builtin, std::ostream& out,
                                 std::ostream& err);

}  // namespace crashdiag
