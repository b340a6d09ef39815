// Which replica owns a failure when the work is split with --shard N --total-shards M: the
// namespace decides (FNV-1a 64 modulo M), so every pod of a workload, across its ReplicaSets and
// rollouts, lands on the same shard and one workload is one RCA. kube-state-metrics shards by
// object uid; a uid would split a Deployment's replicas between shards and give it an RCA in each.
#pragma once

#include <cstdint>
#include <string_view>

namespace crashdiag::core {

struct Shard {
  int index = 0;  // --shard
  int total = 1;  // --total-shards; 1: not sharded
};

[[nodiscard]] constexpr std::uint64_t shard_hash(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

[[nodiscard]] constexpr bool owns(const Shard& shard, std::string_view ns) {
  return shard.total <= 1 || static_cast<int>(shard_hash(ns) % static_cast<std::uint64_t>(shard.total)) == shard.index;
}

}  // namespace crashdiag::core
