// The checkpoint engine: one scheduler per `checkpoint` entry on the supervisor's event
// loop. A round runs on a worker thread and posts its result back, so signals and
// reaping never wait for a store. First round `frequency` after start(), each next one
// `frequency` after the previous ended; run_final() runs every entry once more.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "supervise/checkpoint/round.hpp"
#include "supervise/checkpoint/store.hpp"
#include "supervise/spec/task.hpp"
#include "supervise/status/status.hpp"

namespace supervise::checkpoint {

struct Settings {
  bool manifest = true;
  RetryPolicy retry;
};

// A checkpoint entry with its store, made at start-up (so a store that cannot work is
// reported before anything runs).
struct Configured {
  spec::Checkpoint entry;
  std::shared_ptr<Store> store;
  std::optional<status::Restore> restore;  // what the restore before the command did, if asked
};

// Makes the store of every entry; throws InputError naming the entry.
std::vector<Configured> configure(const std::vector<spec::Checkpoint>& entries);

class Engine {
 public:
  Engine(boost::asio::io_context& io, std::vector<Configured> entries, Settings settings);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  bool empty() const { return entries_.empty(); }
  // Arms each entry's first round, `frequency` from now.
  void start();
  // No more periodic rounds: once each entry's running round (if any) has ended, its
  // final round runs; `done` is called when every final round has ended.
  void run_final(std::function<void()> done);
  // The grace period is ending: running rounds stop, and may clean up (abort multipart
  // uploads) until `cleanup_until`; rounds not yet started do not run. Their results
  // still come back (run_final's `done` is called when the last has).
  void cancel(Clock::time_point cleanup_until);
  // The grace period is over: rounds still running are no longer waited for; their
  // status says what they had stored so far.
  void abandon();
  // True when a worker thread may still be running (after abandon()).
  bool abandoned_work() const { return abandoned_work_; }
  std::vector<status::Checkpoint> statuses() const;

 private:
  struct Entry;
  void schedule(std::size_t index);
  void begin_round(std::size_t index, bool final);
  void on_round_done(std::size_t index, RoundResult result, EntryState state);
  void final_not_run(std::size_t index, const std::string& why);
  void check_final_done();

  boost::asio::io_context& io_;
  Settings settings_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::function<void()> final_done_;
  bool cancelled_ = false;
  bool abandoned_work_ = false;
};

}  // namespace supervise::checkpoint
