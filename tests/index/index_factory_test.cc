// Copyright tqsearch authors. SPDX-License-Identifier: MIT
// tqsearch::index_factory: TurboQuant descriptions build the documented structures, everything else goes to FAISS,
// malformed TurboQuant descriptions are errors.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>

#include "index/index_factory.h"
#include "index/index_io.h"
#include "index_test_util.h"
#include "quant/error.h"

namespace tqsearch {
namespace {

using idx_t = faiss::Index::idx_t;

const IndexTurboQuant& as_tq(const faiss::Index& i) {
  const auto* tq = dynamic_cast<const IndexTurboQuant*>(&i);
  EXPECT_NE(tq, nullptr) << typeid(i).name();
  return *tq;
}

TEST(IndexFactory, PlainTurboQuantStrings) {
  auto idx = index_factory(64, "TQ4");
  const auto& tq = as_tq(*idx);
  EXPECT_EQ(tq.metric(), IndexMetric::kL2);  // faiss::index_factory's default metric
  EXPECT_EQ(tq.options().quantizer.bits, 4);
  EXPECT_TRUE(tq.options().quantizer.store_renorm);
  EXPECT_FALSE(tq.options().quantizer.qjl);
  EXPECT_EQ(tq.options().search.estimator, Estimator::kRenorm);

  auto frac = index_factory(64, "TQ2.5", faiss::METRIC_INNER_PRODUCT);
  EXPECT_EQ(as_tq(*frac).options().quantizer.bits, 2.5);
  EXPECT_EQ(as_tq(*frac).metric(), IndexMetric::kInnerProduct);

  auto qjl = index_factory(64, "TQ3,QJL");
  EXPECT_TRUE(as_tq(*qjl).options().quantizer.qjl);
  EXPECT_EQ(as_tq(*qjl).options().quantizer.bits, 3);
  EXPECT_EQ(as_tq(*qjl).options().search.estimator, Estimator::kQjl);

  auto mse = index_factory(64, "TQ4,MSE");
  EXPECT_FALSE(as_tq(*mse).options().quantizer.store_renorm);
  EXPECT_EQ(as_tq(*mse).options().search.estimator, Estimator::kMse);
  EXPECT_LT(as_tq(*mse).code_size, as_tq(*idx).code_size);  // no ρ stored

  auto renorm = index_factory(64, "TQ4,Renorm");
  EXPECT_EQ(as_tq(*renorm).options().search.estimator, Estimator::kRenorm);

  auto dense = index_factory(64, "TQ8,Dense");
  EXPECT_EQ(as_tq(*dense).options().quantizer.rotation.kind, RotationKind::kDense);
  EXPECT_EQ(as_tq(*dense).options().quantizer.bits, 8);

  auto cos = index_factory(64, "TQ4", IndexMetric::kCosine);
  EXPECT_EQ(as_tq(*cos).metric(), IndexMetric::kCosine);

  // Scan layout: the recommended one unless Scan<b> is given (not part of the codes).
  EXPECT_EQ(as_tq(*idx).options().scan_bits, -1);
  EXPECT_EQ(as_tq(*idx).scanner().layout().scan_bits, 0);
  EXPECT_EQ(as_tq(*dense).scanner().layout().scan_bits, 2);
  auto scan2 = index_factory(64, "TQ4,Scan2");
  EXPECT_EQ(as_tq(*scan2).options().scan_bits, 2);
  EXPECT_EQ(as_tq(*scan2).scanner().layout().scan_bits, 2);
  EXPECT_EQ(as_tq(*scan2).code_size, as_tq(*idx).code_size);
  auto scan0 = index_factory(64, "TQ8,Center,Scan0");
  EXPECT_EQ(as_tq(*scan0).scanner().layout().scan_bits, 0);
  EXPECT_TRUE(as_tq(*scan0).centered());

  // Lut<m>: the search default lut_max (the default one unless given), with any layout.
  EXPECT_EQ(as_tq(*idx).options().search.lut_max, FlatSearchParams{}.lut_max);
  for (int m : {63, 127, 255}) {
    auto lut = index_factory(64, "TQ4,Scan2,Lut" + std::to_string(m));
    EXPECT_EQ(as_tq(*lut).options().search.lut_max, m);
    EXPECT_EQ(as_tq(*lut).options().scan_bits, 2);
  }
  EXPECT_EQ(as_tq(*index_factory(64, "TQ4,Lut127,Center")).options().search.lut_max, 127);

  // Fold: ‖x‖/ρ in the norm slot; with Norm16 a row is its mse bits + 2 bytes (IP / cosine).
  auto fold = index_factory(64, "TQ4,Norm16,Fold", faiss::METRIC_INNER_PRODUCT);
  EXPECT_TRUE(as_tq(*fold).options().quantizer.fold_renorm);
  EXPECT_EQ(as_tq(*fold).code_size, 32u + 2u);
  auto fold_cos = index_factory(100, "TQ3.84,Center,OptCos,Norm16,Fold", IndexMetric::kCosine);
  EXPECT_EQ(as_tq(*fold_cos).code_size, 50u);  // PQ50x8's bytes at d = 100
}

TEST(IndexFactory, WrapperStrings) {
  auto m = index_factory(32, "IDMap,TQ4");
  auto* map = dynamic_cast<faiss::IndexIDMap*>(m.get());
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(typeid(*map), typeid(faiss::IndexIDMap));
  as_tq(*map->index);

  auto m2 = index_factory(32, "IDMap2,TQ4");
  EXPECT_EQ(typeid(*m2), typeid(faiss::IndexIDMap2));

  auto h = index_factory(32, "HNSW16,TQ4", faiss::METRIC_INNER_PRODUCT);
  auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(h.get());
  ASSERT_NE(hnsw, nullptr);
  EXPECT_EQ(hnsw->metric_type, faiss::METRIC_INNER_PRODUCT);
  EXPECT_EQ(hnsw->hnsw.nb_neighbors(1), 16);
  as_tq(*hnsw->storage);

  auto r = index_factory(32, "TQ4,RFlat");
  auto* rf = dynamic_cast<faiss::IndexRefineFlat*>(r.get());
  ASSERT_NE(rf, nullptr);
  EXPECT_EQ(rf->k_factor, 4.0f);
  as_tq(*rf->base_index);

  auto all = index_factory(32, "IDMap,HNSW8,TQ2,QJL,RFlat");
  auto* outer = dynamic_cast<faiss::IndexIDMap*>(all.get());
  ASSERT_NE(outer, nullptr);
  auto* refine = dynamic_cast<faiss::IndexRefineFlat*>(outer->index);
  ASSERT_NE(refine, nullptr);
  auto* hn = dynamic_cast<faiss::IndexHNSW*>(refine->base_index);
  ASSERT_NE(hn, nullptr);
  EXPECT_TRUE(as_tq(*hn->storage).options().quantizer.qjl);

  // Cosine with RFlat: normalization outside so that the kept raw vectors are normalized too.
  auto cr = index_factory(32, "TQ4,RFlat", IndexMetric::kCosine);
  auto* pre = dynamic_cast<faiss::IndexPreTransform*>(cr.get());
  ASSERT_NE(pre, nullptr);
  ASSERT_NE(dynamic_cast<faiss::IndexRefineFlat*>(pre->index), nullptr);
  // The TQ index inside stays cosine, so that centering takes the L2 form there too.
  auto crc = index_factory(32, "TQ4,Center,RFlat", IndexMetric::kCosine);
  auto* crf = dynamic_cast<faiss::IndexRefineFlat*>(dynamic_cast<faiss::IndexPreTransform&>(*crc).index);
  ASSERT_NE(crf, nullptr);
  EXPECT_EQ(as_tq(*crf->base_index).metric(), IndexMetric::kCosine);
  EXPECT_TRUE(as_tq(*crf->base_index).ranks_as_l2());
  EXPECT_EQ(crf->metric_type, faiss::METRIC_INNER_PRODUCT);  // the exact rerank: IP of the normalized raw vectors
}

TEST(IndexFactory, FactoryIndexesWorkEndToEnd) {
  const auto ds = testing::make_clustered(32, 2000, 10, 8, 99);
  std::vector<idx_t> ids(ds.nb);
  for (size_t i = 0; i < ds.nb; ++i) ids[i] = idx_t(i) * 11;
  for (const char* desc : {"TQ4", "TQ2.5", "TQ4,QJL", "TQ4,MSE", "IDMap,TQ4", "IDMap2,TQ4", "HNSW32,TQ4",
                           "TQ4,RFlat", "IDMap,HNSW16,TQ3,RFlat"}) {
    for (IndexMetric m : {IndexMetric::kL2, IndexMetric::kInnerProduct, IndexMetric::kCosine}) {
      auto idx = index_factory(ds.d, desc, m);
      const bool idmap = std::string(desc).rfind("IDMap", 0) == 0;
      if (idmap) {
        idx->add_with_ids(idx_t(ds.nb), ds.base.data(), ids.data());
      } else {
        idx->add(idx_t(ds.nb), ds.base.data());
      }
      EXPECT_EQ(idx->ntotal, idx_t(ds.nb)) << desc;
      std::vector<float> D(ds.nq * 5);
      std::vector<idx_t> I(ds.nq * 5);
      idx->search(idx_t(ds.nq), ds.queries.data(), 5, D.data(), I.data());
      for (idx_t id : I) {
        EXPECT_GE(id, 0) << desc;
        if (idmap) {
          EXPECT_EQ(id % 11, 0) << desc;
        }
      }
      // Every factory product can be saved and loaded.
      faiss::VectorIOWriter w;
      tqsearch::write_index(idx.get(), &w);
      faiss::VectorIOReader r;
      r.data = w.data;
      auto back = tqsearch::read_index(&r);
      std::vector<idx_t> I2(I.size());
      back->search(idx_t(ds.nq), ds.queries.data(), 5, D.data(), I2.data());
      EXPECT_EQ(I, I2) << desc << " " << index_metric_name(m);
    }
  }
}

TEST(IndexFactory, OtherStringsGoToFaiss) {
  auto flat = index_factory(16, "Flat", faiss::METRIC_INNER_PRODUCT);
  EXPECT_NE(dynamic_cast<faiss::IndexFlat*>(flat.get()), nullptr);
  EXPECT_EQ(flat->metric_type, faiss::METRIC_INNER_PRODUCT);
  auto pq = index_factory(16, "PQ4x8");
  EXPECT_NE(dynamic_cast<faiss::IndexPQ*>(pq.get()), nullptr);
  auto ivf = index_factory(16, "IVF8,Flat");
  EXPECT_NE(dynamic_cast<faiss::IndexIVFFlat*>(ivf.get()), nullptr);
  auto cos = index_factory(16, "Flat", IndexMetric::kCosine);
  EXPECT_NE(dynamic_cast<faiss::IndexPreTransform*>(cos.get()), nullptr);
  EXPECT_EQ(cos->metric_type, faiss::METRIC_INNER_PRODUCT);
}

TEST(IndexFactory, MalformedDescriptionsAreErrors) {
  auto expect_error = [](const std::string& desc, const std::string& needle) {
    try {
      index_factory(16, desc);
      ADD_FAILURE() << "no error for \"" << desc << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << desc << ": " << e.what();
    }
  };
  expect_error("TQ9", "rate in [1, 8]");
  expect_error("TQ0.5", "rate in [1, 8]");
  expect_error("TQ4x", "rate");
  expect_error("TQ4,QJL,MSE", "at most one");
  expect_error("TQ4,RFlat,QJL", "RFlat must be the last");
  expect_error("TQ4,Foo", "unknown option");
  expect_error("TQ4,Scan5", "Scan needs an integer b in [0, 4]");
  expect_error("TQ4,Scan1.5", "Scan needs an integer b in [0, 4]");
  expect_error("TQ4,Scan", "Scan needs an integer b in [0, 4]");
  expect_error("TQ4,Scan2,Scan0", "given twice");
  expect_error("HNSW32,TQ4,Scan2", "HNSW search does not scan");
  expect_error("TQ4,Lut64", "Lut needs m = 63, 127 or 255");
  expect_error("TQ4,Lut", "Lut needs m = 63, 127 or 255");
  expect_error("TQ4,Lut63,Lut127", "given twice");
  expect_error("HNSW32,TQ4,Lut63", "HNSW search does not scan");
  expect_error("TQ4,Fold,Fold", "given twice");
  expect_error("TQ4,MSE,Fold", "Fold keeps only");
  expect_error("TQ4,Fold,QJL", "Fold keeps only");
  expect_error("TQ4,Fold", "‖x‖²");  // the default metric is L2
  expect_error("HNSW,TQ4", "HNSW needs an integer M");
  expect_error("HNSW1,TQ4", "HNSW needs an integer M");
  expect_error("PCA8,TQ4", "expected TQ<rate>");
  expect_error("IDMap,IDMap,TQ4", "expected TQ<rate>");
  expect_error("NoSuchIndex", "faiss::index_factory");
  EXPECT_THROW(index_factory(0, "TQ4"), Error);
  EXPECT_THROW(index_factory(16, "TQ4", faiss::METRIC_L1), Error);
}

}  // namespace
}  // namespace tqsearch
