// What the object stores (s3:// and azure://) share above the HTTP engine: how an
// outcome becomes a store's result, a small file read whole into memory, a large file's
// parts sent in parallel through the transfer pool, and a large object read in ranges
// in parallel. The protocol's own requests are passed in as functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supervise/checkpoint/store.hpp"
#include "supervise/checkpoint/transfer_pool.hpp"
#include "supervise/s3/transport.hpp"

namespace supervise::s3 {

// `redo_is_cheap`: a single PUT may be tried again by the round after the client's own
// attempts (a burst of faults can outlast them); an upload in parts, whose parts the
// client has already retried, is not redone from its first part in the same round.
checkpoint::PutResult put_result(const Outcome& o, bool redo_is_cheap);

// The file changed while it was read: nothing was committed, the object keeps its last
// version, and the file must be stored again (as the round does for a changed file).
checkpoint::PutResult changed_result(const checkpoint::Stamp& stamp);

// What a GET's outcome means for a read: found, not there (a 404 whose code is not
// `missing_bucket_code`, "NoSuchBucket" or "ContainerNotFound"), or an error (`error`
// when given, else the outcome's).
checkpoint::GetResult get_result(const Outcome& o, const std::string& error,
                                 std::string_view missing_bucket_code);

// A whole GET's body into `sink` (started over before each attempt), counted as moved;
// a local write error goes to `error`.
BodySink file_sink(checkpoint::SinkFile& sink, const checkpoint::Control& control,
                   std::string& error);

// Reads a file no larger than a part whole into `buffer`. nullopt: `buffer` holds one
// whole version (its CRC-32C is in.crc32c()); else what to return (a read error, or the
// file changed while read: nothing goes up).
std::optional<checkpoint::PutResult> read_whole(checkpoint::SourceFile& in, std::string& buffer);

// The result for a local file that could not be opened (gone: vanished, not a failure).
checkpoint::PutResult unopened(const checkpoint::SourceFile& in);

// A file no larger than a part, read once into memory within a slot of the pool (so its
// checksum is known before its first byte goes, and a retry resends those very bytes),
// then sent by `send(bytes, crc32c)` as one request. `what` names it ("PUT s3://b/k").
checkpoint::PutResult put_whole_file(
    checkpoint::TransferPool& pool, checkpoint::SourceFile& in, const checkpoint::Control& control,
    const std::string& what,
    const std::function<Outcome(std::string_view data, std::uint32_t crc)>& send);

// The parts of `in` (of `part` bytes, the last shorter) sent in parallel through the
// pool, each read with pread once into memory (so a retry resends the same bytes) within
// a slot, by `send(index, bytes, crc32c)`. The first failure stops the parts not yet
// begun. `what` names the upload in messages ("PUT s3://b/k").
struct SentParts {
  bool stopped = false;             // a part failed, or the file was found shorter
  bool moved = false;               // ... the file shrank (it changed: store it again)
  checkpoint::PutResult failure;    // stopped and not moved: why
  std::vector<std::uint32_t> crcs;  // each part's CRC-32C
};
SentParts send_parts(checkpoint::TransferPool& pool, const checkpoint::SourceFile& in,
                     std::uint64_t part, const checkpoint::Control& control,
                     const std::string& what,
                     const std::function<Outcome(std::size_t index, std::string_view data,
                                                 std::uint32_t crc)>& send);

// A large object (sink.expected() bytes) read in parts in parallel through the pool,
// each written at its offset. The first range gives the ETag and the object's size; the
// others ask for that very ETag (If-Match), so a replaced object fails them (412) rather
// than mix two versions. nullopt: the object's size is not the expected one, read it
// whole instead (the restore judges what it holds). `fetch` sends one ranged GET,
// `result` maps a failed outcome; `what` names the object ("GET s3://b/k"), `key` the
// file (for a local error).
std::optional<checkpoint::GetResult> get_in_ranges(
    checkpoint::TransferPool& pool, checkpoint::SinkFile& sink, const std::string& key,
    const std::string& what, std::uint64_t part, const checkpoint::Control& control,
    const std::function<Outcome(const ByteRange& range, BodySink sink)>& fetch,
    const std::function<checkpoint::GetResult(const Outcome& o)>& result);

}  // namespace supervise::s3
