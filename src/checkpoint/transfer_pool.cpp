// The shared transfer pool: batches of tasks worked on by the pool's threads and by the
// thread that submitted them (so a batch always finishes, with or without the pool),
// and the slots that bound the buffers in flight.
#include "supervise/checkpoint/transfer_pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <system_error>

namespace supervise::checkpoint {

struct TransferPool::Batch {
  std::size_t count = 0;
  const std::function<void(std::size_t)>* task = nullptr;
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::size_t done = 0;
};

TransferPool::TransferPool(unsigned slots)
    : slots_(std::clamp(slots, 1u, kMaxSlots)), free_(static_cast<std::ptrdiff_t>(slots_)) {}

TransferPool::~TransferPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void TransferPool::start_threads() {
  // Under mutex_. One thread per slot, less the caller's own.
  started_ = true;
  for (unsigned i = 1; i < slots_; ++i) {
    try {
      threads_.emplace_back([this] { serve(); });
    } catch (const std::system_error& e) {
      spdlog::debug("transfer thread not started ({} running): {}", threads_.size(), e.what());
      break;
    }
  }
}

void TransferPool::work(Batch& batch) {
  for (std::size_t i; (i = batch.next.fetch_add(1)) < batch.count;) {
    try {
      (*batch.task)(i);
    } catch (const std::exception& e) {
      spdlog::error("a transfer failed unexpectedly: {}", e.what());
    } catch (...) {
      spdlog::error("a transfer failed unexpectedly");
    }
    std::lock_guard lock(batch.mutex);
    if (++batch.done == batch.count) batch.finished.notify_all();
  }
}

void TransferPool::serve() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Batch> batch = queue_.front();
    if (batch->next.load() >= batch->count) {  // all handed out: the next batch
      queue_.pop_front();
      continue;
    }
    lock.unlock();
    work(*batch);
    lock.lock();
  }
}

void TransferPool::run(std::size_t count, const std::function<void(std::size_t)>& task) {
  if (count == 0) return;
  auto batch = std::make_shared<Batch>();
  batch->count = count;
  batch->task = &task;
  if (count > 1) {
    std::lock_guard lock(mutex_);
    if (!started_) start_threads();
    queue_.push_back(batch);
  }
  wake_.notify_all();
  work(*batch);
  {
    std::unique_lock lock(batch->mutex);
    batch->finished.wait(lock, [&] { return batch->done == batch->count; });
  }
  std::lock_guard lock(mutex_);
  queue_.erase(std::remove(queue_.begin(), queue_.end(), batch), queue_.end());
}

TransferPool::Slot::Slot(TransferPool& pool, const Control& control) : pool_(pool) {
  // Waits in short slices, so that a cancel or a store found down is seen at once.
  while (!control.give_up()) {
    if (pool_.free_.try_acquire_for(std::chrono::milliseconds(50))) {
      held_ = true;
      return;
    }
  }
}

TransferPool::Slot::~Slot() {
  if (held_) pool_.free_.release();
}

}  // namespace supervise::checkpoint
