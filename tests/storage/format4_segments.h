#pragma once

// Test support: turns sealed index segments of a closed RocksTraceStore into what store format 4
// wrote (keys.h, "Services in a segment"): each tag ('A') posting without its service masks, one
// service tag ('a') posting per (service, tag) instead, and no 'k' keys. So the tests of stores
// written before the service masks need no old build.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/index/keys.h"

namespace tailtrace::storage::testing {

namespace format4_internal {

// The stream of an index key (the key without its segment suffix).
inline std::string_view StreamOf(std::string_view key) { return key.substr(0, key.size() - 16); }

// Rewrites the chosen segments of one bucket into `batch`.
inline void RewriteBucket(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                          const std::function<bool(const SegmentRef&)>& pick,
                          rocksdb::WriteBatch* batch, size_t* written) {
  std::map<SegmentRef, std::map<uint32_t, std::string>> services;  // numbers -> names
  const std::string k_prefix{kIndexTag, kServiceKeyIndex};
  const std::string a_prefix{kIndexTag, kTagIndex};
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(k_prefix); it->Valid() && it->key().starts_with(k_prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const auto ref = DecodeSegmentSuffix(key);
    const auto parts = DecodeServiceKeyStream(StreamOf(key));
    std::string_view value = it->value().ToStringView();
    uint32_t number = 0;
    ASSERT_TRUE(ref && parts && GetVarint32(&value, &number)) << "a malformed 'k' key";
    if (!pick(*ref)) continue;
    services[*ref][number] = std::string(parts->first);
    batch->Delete(cf, key);
  }
  std::map<std::string, std::vector<uint32_t>> service_tags;  // 'a' posting key -> ordinals
  for (it->Seek(a_prefix); it->Valid() && it->key().starts_with(a_prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const auto ref = DecodeSegmentSuffix(key);
    const auto tag = DecodeTagStream(StreamOf(key));
    ASSERT_TRUE(ref && tag) << "a malformed 'A' key";
    if (!pick(*ref)) continue;
    std::vector<uint32_t> ordinals;
    std::vector<std::string_view> masks;
    std::string_view rest;
    ASSERT_TRUE(DecodePosting(it->value().ToStringView(), &ordinals, nullptr, &rest) &&
                GetLengthPrefixedList(&rest, ordinals.size(), &masks));
    for (size_t i = 0; i < ordinals.size(); ++i) {
      for (const auto& [number, service] : services[*ref]) {
        if (!ServiceMaskHas(masks[i], number)) continue;
        service_tags[PostingKey(ServiceTagStream(service, tag->first, tag->second), ref->slot,
                                ref->segment)]
            .push_back(ordinals[i]);
      }
    }
    batch->Put(cf, key, EncodePosting(ordinals, nullptr));
  }
  ASSERT_TRUE(it->status().ok());
  for (const auto& [key, ordinals] : service_tags) {
    batch->Put(cf, key, EncodePosting(ordinals, nullptr));
  }
  *written += service_tags.size();
}

}  // namespace format4_internal

// Rewrites the sealed segments `pick` chooses, in every bucket of the closed store at `path`, and
// marks the store format version 4; `*written` gets the number of service tag postings written.
// The store must have been flushed before it was closed (its
// log may hold merges, which this cannot replay).
inline void RewriteSegmentsAsFormat4(const std::string& path,
                                     const std::function<bool(const SegmentRef&)>& pick,
                                     size_t* written) {
  *written = 0;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::DBOptions db_options;
  // Without the store's merge operator a compaction of dependency counts would fail.
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.disable_auto_compactions = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& name : names) cfs.emplace_back(name, cf_options);
  const rocksdb::Status opened = rocksdb::DB::Open(db_options, path, cfs, &handles, &db);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  rocksdb::WriteBatch batch;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    if (h->GetName() == rocksdb::kDefaultColumnFamilyName) {
      batch.Put(h, kFormatVersionKey, "4");
    } else if (ParseBucketColumnFamilyName(h->GetName())) {
      format4_internal::RewriteBucket(db, h, pick, &batch, written);
    }
  }
  EXPECT_TRUE(db->Write(rocksdb::WriteOptions(), &batch).ok());
  for (rocksdb::ColumnFamilyHandle* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

}  // namespace tailtrace::storage::testing
