// A bounded pool of transfers (the parts of large files, ranged reads of large objects,
// small files read whole) shared by all files of a store's rounds and restores: at most
// `slots` buffers exist at once, so memory stays below slots x part size, and one large
// file can use every connection while many small ones share them.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "supervise/checkpoint/control.hpp"

namespace supervise::checkpoint {

class TransferPool {
 public:
  static constexpr unsigned kMaxSlots = 1024;
  explicit TransferPool(unsigned slots);
  ~TransferPool();
  TransferPool(const TransferPool&) = delete;
  TransferPool& operator=(const TransferPool&) = delete;

  unsigned slots() const { return slots_; }

  // Runs task(0) .. task(count - 1) on the pool's threads and the caller's, and returns
  // when every one has run. A task must not throw (one that does is counted as run).
  // Threads are started on first use; where none can be (a pids limit), the caller
  // runs them all.
  void run(std::size_t count, const std::function<void(std::size_t)>& task);

  // A buffer's right to exist: held while a part is read, sent or received.
  class Slot {
   public:
    Slot(TransferPool& pool, const Control& control);  // waits; check held()
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    bool held() const { return held_; }

   private:
    TransferPool& pool_;
    bool held_ = false;
  };

 private:
  struct Batch;
  void start_threads();
  void serve();
  static void work(Batch& batch);

  unsigned slots_;
  std::counting_semaphore<kMaxSlots> free_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Batch>> queue_;
  std::vector<std::thread> threads_;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace supervise::checkpoint
