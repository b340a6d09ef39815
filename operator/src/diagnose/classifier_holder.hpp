// The classifier in effect, replaceable while the daemon runs (live rule reload). A diagnosis takes
// a shared_ptr for its whole classification, so a reload never frees rules in use; the lock only
// guards the pointer swap, so diagnoses on any thread and the reloader never block each other for
// longer than a copy.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

#include "crashdiag/classifiers/classifier.hpp"

namespace crashdiag::daemon {

class ClassifierHolder {
 public:
  explicit ClassifierHolder(std::shared_ptr<const Classifier> classifier) : classifier_(std::move(classifier)) {}

  [[nodiscard]] std::shared_ptr<const Classifier> get() const {
    std::lock_guard lock(mu_);
    return classifier_;
  }
  void set(std::shared_ptr<const Classifier> classifier) {
    std::lock_guard lock(mu_);
    classifier_ = std::move(classifier);
    ++generation_;
  }
  // How many times set() replaced the classifier.
  [[nodiscard]] std::uint64_t generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Classifier> classifier_;
  std::uint64_t generation_ = 0;
};

}  // namespace crashdiag::daemon
