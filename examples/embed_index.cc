// The README's example: embed an IndexTurboQuant in a service (create, add, search, save, load).
#include <cstdio>
#include <random>
#include <vector>

#include "index/index_io.h"
#include "index/index_turbo_quant.h"

int main(int argc, char** argv) {
  const int d = 128;
  std::vector<float> xb(10000 * d), xq(5 * d);
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  for (float& v : xb) v = g(rng);
  for (float& v : xq) v = g(rng);

  tqsearch::IndexTurboQuant index(d, tqsearch::IndexMetric::kInnerProduct);  // 4 bits + renorm; no training
  index.add(10000, xb.data());

  std::vector<float> D(5 * 10);
  std::vector<faiss::Index::idx_t> I(5 * 10);
  index.search(5, xq.data(), 10, D.data(), I.data());

  const char* path = argc > 1 ? argv[1] : "example.tqs";
  tqsearch::write_index(&index, path);  // atomic: temp file + rename
  auto loaded = tqsearch::read_index(path);
  std::vector<float> D2(5 * 10);
  std::vector<faiss::Index::idx_t> I2(5 * 10);
  loaded->search(5, xq.data(), 10, D2.data(), I2.data());
  std::printf("top-1 of query 0: id %lld, score %.3f; after reload: id %lld\n", (long long)I[0], D[0],
              (long long)I2[0]);
  return I == I2 ? 0 : 1;
}
