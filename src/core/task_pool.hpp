// A fixed set of threads that run submitted tasks in submission order of
// start. For storages that keep several network requests in flight.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace prevayler::detail {

class TaskPool {
 public:
  // `name` names the threads (at most 15 characters: what top and
  // /proc/PID/task/*/comm show, and what a test counts wake-ups by).
  TaskPool(std::size_t threads, const char* name) {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this, name] {
        ::pthread_setname_np(::pthread_self(), name);
        run();
      });
    }
  }
  ~TaskPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Tasks must not throw; they report through their own state.
  void submit(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      ready_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and everything submitted ran
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace prevayler::detail
