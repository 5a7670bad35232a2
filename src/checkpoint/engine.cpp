#include "supervise/checkpoint/engine.hpp"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <mutex>
#include <system_error>
#include <thread>

#include "supervise/diagnostics.hpp"
#include "supervise/spec/checkpoint_places.hpp"

namespace supervise::checkpoint {
namespace {

// What a worker thread shares with the engine. The thread holds its own reference, so
// an abandoned round may outlive the engine without touching freed memory.
struct Shared {
  spec::Checkpoint entry;
  std::unique_ptr<re2::RE2> regex;
  std::shared_ptr<Store> store;
  std::optional<status::Restore> restore;
  Cancel cancel;
  Progress progress;  // of the running round
  std::mutex mutex;
  boost::asio::io_context* io = nullptr;  // null once nobody waits for results
  Engine* engine = nullptr;
};

}  // namespace

struct Engine::Entry {
  std::shared_ptr<Shared> shared;
  boost::asio::steady_timer timer;
  EntryState state;  // moved to the worker while a round runs
  bool running = false;
  bool final_wanted = false;
  bool final_done = false;
  std::size_t rounds = 0;
  std::size_t failed_rounds = 0;
  std::optional<status::CheckpointFinal> final;

  Entry(boost::asio::io_context& io, std::shared_ptr<Shared> s) : shared(std::move(s)), timer(io) {}
  const spec::Checkpoint& spec() const { return shared->entry; }
};

std::vector<Configured> configure(const std::vector<spec::Checkpoint>& entries) {
  std::vector<Configured> out;
  Diagnostics problems;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    try {
      out.push_back({entries[i], make_store(entries[i].url)});
    } catch (const std::exception& e) {
      problems.add("checkpoint", "[" + std::to_string(i) + "].url", e.what());
    }
  }
  // The loader checked the places as written; here they are checked as they resolve
  // through symbolic links, which only start-up can see.
  for (const auto& p : spec::real_place_problems(entries)) {
    const std::string& place = entries[p.entry].place;
    problems.add(place.rfind("--", 0) == 0 ? "command line" : "checkpoint", place, p.message);
  }
  if (!problems.empty()) throw InputError(std::move(problems));
  return out;
}

Engine::Engine(boost::asio::io_context& io, std::vector<Configured> entries, Settings settings)
    : io_(io), settings_(settings) {
  for (auto& c : entries) {
    auto shared = std::make_shared<Shared>();
    shared->entry = std::move(c.entry);
    shared->store = std::move(c.store);
    shared->restore = std::move(c.restore);
    if (shared->entry.regex) shared->regex = std::make_unique<re2::RE2>(*shared->entry.regex);
    shared->io = &io_;
    shared->engine = this;
    entries_.push_back(std::make_unique<Entry>(io_, std::move(shared)));
  }
}

Engine::~Engine() {
  for (auto& e : entries_) {
    e->shared->cancel.request(Clock::now());
    std::lock_guard lock(e->shared->mutex);
    e->shared->io = nullptr;
  }
}

void Engine::start() {
  for (std::size_t i = 0; i < entries_.size(); ++i) schedule(i);
}

void Engine::schedule(std::size_t index) {
  Entry& e = *entries_[index];
  e.timer.expires_after(e.spec().frequency);
  e.timer.async_wait([this, index](const boost::system::error_code& ec) {
    // cancel() cannot take back a handler already queued: run_final() (or abandon())
    // may have come between the expiry and this call, and started the final round.
    const Entry& now = *entries_[index];
    if (!ec && !now.final_wanted && !now.final_done && !now.running) begin_round(index, /*final=*/false);
  });
}

void Engine::begin_round(std::size_t index, bool final) {
  Entry& e = *entries_[index];
  e.running = true;
  RoundRequest request{&e.shared->entry, e.shared->regex.get(), e.rounds + 1, final, settings_.manifest,
                       settings_.retry};
  spdlog::info("Checkpointing data from {} to {}...", e.spec().path, e.spec().url.text);
  e.shared->progress.reset();
  auto state = std::make_shared<EntryState>(std::move(e.state));
  auto failed = [request](const std::string& why) {
    RoundResult result;
    result.number = request.number;
    result.final = request.final;
    result.path_exists = true;  // unknown; the log must not say it is missing
    result.failed = 1;
    result.errors.push_back(why);
    return result;
  };
  try {
    std::thread([shared = e.shared, request, state, index, failed] {
      RoundResult result;
      try {
        result = run_round(request, *shared->store, *state, shared->progress, shared->cancel);
      } catch (const std::exception& ex) {  // nothing may escape a worker thread
        result = failed(std::string("internal error: ") + ex.what());
      }
      std::lock_guard lock(shared->mutex);
      if (shared->io == nullptr) return;  // abandoned: nobody waits for this result
      boost::asio::post(*shared->io, [engine = shared->engine, index, result, state] {
        engine->on_round_done(index, result, std::move(*state));
      });
    }).detach();
  } catch (const std::system_error& ex) {
    // No thread to be had (a pids limit reached by the task): a failed round, never an
    // exception out of the event loop of PID 1.
    boost::asio::post(io_, [this, index, result = failed(std::string("cannot start a round: ") + ex.what()), state] {
      on_round_done(index, result, std::move(*state));
    });
  }
}

void Engine::on_round_done(std::size_t index, RoundResult r, EntryState state) {
  Entry& e = *entries_[index];
  e.running = false;
  e.state = std::move(state);
  ++e.rounds;
  if (!r.ok()) ++e.failed_rounds;
  const auto& spec = e.spec();
  if (!r.path_exists) {
    spdlog::info("{} does not exist yet: nothing to store", spec.path);
  } else {
    double mbps = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
    spdlog::info("Checkpoint round {} of {} to {}: {} stored, {} unchanged, {} skipped{}, {} in {:.2f} s ({:.1f} MB/s)",
                 r.number, spec.path, spec.url.text, r.stored, r.unchanged, r.skipped,
                 r.changing > 0 ? ", " + std::to_string(r.changing) + " changing (stored again next round)" : "",
                 megabytes(r.bytes), r.seconds, mbps);
  }
  if (!r.ok()) spdlog::warn("Checkpoint round {} of {} to {}: {}", r.number, spec.path, spec.url.text, r.error_summary());
  if (r.final) {
    e.final_done = true;
    e.final = status::CheckpointFinal{r.ok(), r.stored, r.unchanged, r.skipped, r.bytes, r.seconds,
                                      r.ok() ? std::nullopt : std::optional<std::string>(r.error_summary())};
    e.final->files_failed = r.failed;
    spdlog::info("Checkpointing data from {} to {} finished", spec.path, spec.url.text);
    check_final_done();
  } else if (e.final_wanted) {
    if (cancelled_) final_not_run(index, "the final round did not run: the grace period ended");
    else begin_round(index, /*final=*/true);
  } else {
    schedule(index);
  }
}

void Engine::run_final(std::function<void()> done) {
  final_done_ = std::move(done);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = *entries_[i];
    e.timer.cancel();
    e.final_wanted = true;
    if (e.running) continue;
    if (cancelled_) final_not_run(i, "the final round did not run: the grace period ended");
    else begin_round(i, /*final=*/true);
  }
  check_final_done();
}

void Engine::final_not_run(std::size_t index, const std::string& why) {
  Entry& e = *entries_[index];
  status::CheckpointFinal f;
  f.ok = false;
  f.error = why;
  e.final = f;
  e.final_done = true;
  check_final_done();
}

void Engine::check_final_done() {
  if (!final_done_) return;
  for (const auto& e : entries_)
    if (!e->final_done) return;
  auto done = std::move(final_done_);
  final_done_ = nullptr;
  done();
}

void Engine::cancel(Clock::time_point cleanup_until) {
  cancelled_ = true;
  for (auto& e : entries_) {
    e->timer.cancel();
    if (e->running) e->shared->cancel.request(cleanup_until);
  }
}

void Engine::abandon() {
  cancelled_ = true;
  for (auto& e : entries_) {
    e->timer.cancel();
    if (e->final_done) continue;
    status::CheckpointFinal f;
    f.ok = false;
    if (e->running) {
      abandoned_work_ = true;
      e->shared->cancel.request(Clock::now());
      {
        std::lock_guard lock(e->shared->mutex);
        e->shared->io = nullptr;
      }
      // The round was cut short, but what it stored is stored: count it.
      const Progress& p = e->shared->progress;
      f.files_stored = p.stored;
      f.files_failed = p.failed;
      f.bytes_stored = p.bytes;
      ++e->rounds;
      ++e->failed_rounds;
    }
    f.error = e->final_wanted && e->running
                  ? "the final round did not finish within the grace period (" + std::to_string(f.files_stored) +
                        (f.files_stored == 1 ? " file" : " files") + " stored by then)"
                  : "the final round did not run: the grace period ended";
    e->final = f;
    e->final_done = true;
  }
  final_done_ = nullptr;
}

std::vector<status::Checkpoint> Engine::statuses() const {
  std::vector<status::Checkpoint> out;
  for (const auto& e : entries_) {
    status::Checkpoint c{e->spec().path, spec::redact_url(e->spec().url.text), e->rounds, e->failed_rounds, e->final};
    c.restore = e->shared->restore;
    for (const auto& u : e->shared->store->open_uploads()) c.open_uploads.push_back({u.object, u.upload_id});
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace supervise::checkpoint
