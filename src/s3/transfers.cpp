#include "supervise/s3/transfers.hpp"

#include <atomic>
#include <mutex>

#include "supervise/checkpoint/crc32c.hpp"

namespace supervise::s3 {

checkpoint::PutResult put_result(const Outcome& o, bool redo_is_cheap) {
  checkpoint::PutResult r;
  r.ok = o.ok;
  r.retryable = redo_is_cheap && o.retryable;
  r.error = o.error;
  r.previous_kept = !o.maybe_committed;
  return r;
}

checkpoint::PutResult changed_result(const checkpoint::Stamp& stamp) {
  checkpoint::PutResult r;
  r.ok = true;
  r.changed = true;
  r.stamp = stamp;
  return r;
}

checkpoint::GetResult get_result(const Outcome& o, const std::string& error,
                                 std::string_view missing_bucket_code) {
  checkpoint::GetResult r;
  if (o.ok) {
    r.state = checkpoint::GetResult::State::kFound;
  } else if (o.status == 404 && o.code != missing_bucket_code) {
    r.state = checkpoint::GetResult::State::kNotFound;
  } else {
    r.error = error.empty() ? o.error : error;
    r.retryable = o.retryable;
  }
  return r;
}

BodySink file_sink(checkpoint::SinkFile& sink, const checkpoint::Control& control,
                   std::string& error) {
  return {[&sink, &control, &error](const char* data, std::size_t size) {
            if (!sink.write(data, size)) return error = sink.error(), false;
            control.add_moved(size);
            return true;
          },
          [&sink, &error] { return sink.rewind() || (error = sink.error(), false); }};
}

std::optional<checkpoint::PutResult> read_whole(checkpoint::SourceFile& in, std::string& buffer) {
  const checkpoint::Stamp stamp = in.stamp();
  buffer.assign(static_cast<std::size_t>(stamp.size), '\0');
  std::size_t filled = 0;
  while (filled < buffer.size()) {
    long n = in.read(buffer.data() + filled, buffer.size() - filled);
    if (n <= 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled < buffer.size() && !in.error().empty()) {
    checkpoint::PutResult r;
    r.error = in.error();
    return r;
  }
  // Shrank, grew or was rewritten while read: nothing went up; stored again later.
  if (filled < buffer.size() || in.changed()) return changed_result(stamp);
  return std::nullopt;
}

checkpoint::PutResult unopened(const checkpoint::SourceFile& in) {
  checkpoint::PutResult r;
  r.vanished = in.vanished();
  r.error = in.error();
  return r;
}

checkpoint::PutResult put_whole_file(
    checkpoint::TransferPool& pool, checkpoint::SourceFile& in, const checkpoint::Control& control,
    const std::string& what,
    const std::function<Outcome(std::string_view data, std::uint32_t crc)>& send) {
  checkpoint::TransferPool::Slot slot(pool, control);
  checkpoint::PutResult r;
  if (!slot.held()) {
    r.error = what + ": " + control.give_up_reason();
    return r;
  }
  const checkpoint::Stamp stamp = in.stamp();
  std::string buffer;
  if (auto not_whole = read_whole(in, buffer)) return *not_whole;
  Outcome o = send(buffer, in.crc32c());
  r = put_result(o, /*redo_is_cheap=*/true);
  r.stamp = stamp;
  r.crc32c = in.crc32c();
  r.bytes = o.ok ? stamp.size : 0;
  if (o.ok) control.add_moved(stamp.size);
  return r;
}

SentParts send_parts(checkpoint::TransferPool& pool, const checkpoint::SourceFile& in,
                     std::uint64_t part, const checkpoint::Control& control,
                     const std::string& what,
                     const std::function<Outcome(std::size_t index, std::string_view data,
                                                 std::uint32_t crc)>& send) {
  const std::uint64_t size = in.stamp().size;
  const std::size_t count = static_cast<std::size_t>((size + part - 1) / part);
  SentParts out;
  out.crcs.assign(count, 0);
  out.failure.previous_kept = true;
  std::mutex mutex;
  std::atomic<bool> stop{false};
  auto fail = [&](const checkpoint::PutResult& failure, bool shrank) {
    std::lock_guard lock(mutex);
    if (!stop.exchange(true)) {
      out.failure = failure;
      out.failure.previous_kept = true;  // nothing of an upload is visible before it is committed
      out.moved = shrank;
    }
  };
  pool.run(count, [&](std::size_t i) {
    if (stop) return;
    checkpoint::TransferPool::Slot slot(pool, control);
    if (!slot.held()) {
      checkpoint::PutResult gave_up;
      gave_up.error = what + ": " + control.give_up_reason();
      return fail(gave_up, false);
    }
    if (stop) return;
    const std::uint64_t offset = i * part;
    std::string buffer(static_cast<std::size_t>(std::min(part, size - offset)), '\0');
    std::string error;
    if (!in.read_at(buffer.data(), buffer.size(), offset, error)) {
      checkpoint::PutResult bad;
      bad.error = error;
      return fail(bad, error.empty());
    }
    out.crcs[i] = checkpoint::crc32c(0, buffer.data(), buffer.size());
    Outcome p = send(i, buffer, out.crcs[i]);
    if (!p.ok) return fail(put_result(p, /*redo_is_cheap=*/false), false);
    control.add_moved(buffer.size());
  });
  out.stopped = stop;
  return out;
}

std::optional<checkpoint::GetResult> get_in_ranges(
    checkpoint::TransferPool& pool, checkpoint::SinkFile& sink, const std::string& key,
    const std::string& what, std::uint64_t part, const checkpoint::Control& control,
    const std::function<Outcome(const ByteRange& range, BodySink sink)>& fetch,
    const std::function<checkpoint::GetResult(const Outcome& o)>& result) {
  const std::uint64_t size = sink.expected();
  const std::size_t count = static_cast<std::size_t>((size + part - 1) / part);
  if (!sink.rewind()) {
    checkpoint::GetResult r;
    r.error = "restoring " + key + ": " + sink.error();
    return r;
  }
  std::vector<std::uint32_t> crcs(count, 0);
  std::mutex mutex;
  std::atomic<bool> stop{false};
  std::optional<checkpoint::GetResult> failure;
  std::string etag;
  bool other_size = false;
  auto fail = [&](checkpoint::GetResult r) {
    std::lock_guard lock(mutex);
    if (!stop.exchange(true)) failure = std::move(r);
  };
  auto fetch_one = [&](std::size_t i) {
    if (stop) return;
    checkpoint::TransferPool::Slot slot(pool, control);
    if (!slot.held()) {
      checkpoint::GetResult r;
      r.error = what + ": " + control.give_up_reason();
      return fail(std::move(r));
    }
    const std::uint64_t offset = i * part;
    const std::uint64_t length = std::min(part, size - offset);
    std::string buffer;
    buffer.reserve(static_cast<std::size_t>(length));
    BodySink body{[&](const char* data, std::size_t n) {
                    if (buffer.size() + n > length)
                      return false;  // more than the range: not the store
                    buffer.append(data, n);
                    return true;
                  },
                  [&] {
                    buffer.clear();
                    return true;
                  }};
    ByteRange range{offset, offset + length - 1, i == 0 ? "" : etag};
    Outcome o = fetch(range, std::move(body));
    if (i == 0 && o.status == 416) {  // smaller than the first range: read whole
      other_size = true;
      stop = true;
      return;
    }
    if (!o.ok) {
      checkpoint::GetResult r = result(o);
      if (o.status == 412) {  // replaced since the first range: read again from the start
        r.state = checkpoint::GetResult::State::kFailed;
        r.error = what + ": the object changed while it was read";
        r.retryable = true;
      }
      return fail(std::move(r));
    }
    if (i == 0) {
      etag = o.etag;
      if (o.status != 206 || o.object_size != size || etag.empty()) {
        other_size = true;
        stop = true;
        return;
      }
    }
    if (buffer.size() != length) {
      checkpoint::GetResult r;
      r.error = what + ": a range came back short";
      r.retryable = true;
      return fail(std::move(r));
    }
    std::string error;
    if (!sink.write_at(buffer.data(), buffer.size(), offset, error)) {
      checkpoint::GetResult r;
      r.error = "restoring " + key + ": " + error;
      return fail(std::move(r));
    }
    crcs[i] = checkpoint::crc32c(0, buffer.data(), buffer.size());
    control.add_moved(length);
  };
  fetch_one(0);  // alone: the others need its ETag
  if (other_size) return std::nullopt;
  if (!stop) pool.run(count - 1, [&](std::size_t i) { fetch_one(i + 1); });
  if (failure) return failure;
  sink.set_whole(size, checkpoint::crc32c_of_pieces(crcs, part, size));
  checkpoint::GetResult r;
  r.state = checkpoint::GetResult::State::kFound;
  return r;
}

}  // namespace supervise::s3
