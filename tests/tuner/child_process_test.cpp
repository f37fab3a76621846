// Crash isolation's primitive: work in a forked child, its JSON back over a
// pipe, its death (signal, exit without a result) turned into one line.
#include "tuner/child_process.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "common/error.h"
#include "models/compute_threads.h"
#include "tuner/fault_injection.h"

namespace qtune {
namespace {

TEST(ChildProcess, ReturnsTheBodysValueFromAnotherProcess) {
  // The child sees the parent's memory as it was at the fork (nothing reloaded).
  std::vector<int64_t> data(1000);
  std::iota(data.begin(), data.end(), 1);
  const ChildOutcome out = run_in_child(
      [&] {
        return Json{{"pid", static_cast<int64_t>(getpid())},
                    {"sum", std::accumulate(data.begin(), data.end(), int64_t{0})}};
      },
      "trial");
  ASSERT_TRUE(out.value) << out.error;
  EXPECT_TRUE(out.error.empty());
  EXPECT_EQ((*out.value)["sum"].get<int64_t>(), 1000 * 1001 / 2);
  EXPECT_NE((*out.value)["pid"].get<int64_t>(), static_cast<int64_t>(getpid()));
}

TEST(ChildProcess, ResultLargerThanThePipeBufferArrivesWhole) {
  // The parent reads before it waits: a child blocked on a full pipe would deadlock.
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>('a' + i % 26);
  const ChildOutcome out = run_in_child([&] { return Json(big); }, "trial");
  ASSERT_TRUE(out.value) << out.error;
  EXPECT_EQ(out.value->get<std::string>(), big);
}

TEST(ChildProcess, ExceptionBecomesItsFirstLine) {
  const ChildOutcome out =
      run_in_child([]() -> Json { throw Error("bad block 3: expected bits\nbacktrace"); }, "trial");
  EXPECT_FALSE(out.value);
  EXPECT_EQ(out.error, "bad block 3: expected bits");
}

TEST(ChildProcess, CrashNamesTheSignal) {
  const std::pair<const char*, const char*> cases[] = {
      {"segv", "trial crashed: SIGSEGV (signal 11)"},
      {"abort", "trial crashed: SIGABRT (signal 6)"},
      {"kill", "trial crashed: SIGKILL (signal 9)"}};
  for (const auto& [kind, expected] : cases) {
    const ChildOutcome out =
        run_in_child([k = std::string(kind)]() -> Json { crash_now(k); }, "trial");
    EXPECT_FALSE(out.value) << kind;
    EXPECT_EQ(out.error, expected) << kind;
  }
}

TEST(ChildProcess, ExitWithoutResultIsReported) {
  const ChildOutcome out = run_in_child([]() -> Json { ::_exit(7); }, "baseline measurement");
  EXPECT_FALSE(out.value);
  EXPECT_EQ(out.error, "baseline measurement process exited with status 7 without a result");
}

TEST(ChildProcess, ChildStillRunningAtItsTimeLimitIsKilled) {
  const auto t0 = std::chrono::steady_clock::now();
  const ChildOutcome out = run_in_child([]() -> Json { crash_now("hang"); }, "trial", 0.3);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(out.value);
  EXPECT_TRUE(out.timed_out);
  EXPECT_EQ(out.error, "trial still running after 0.3s: killed (SIGKILL)");
  EXPECT_GE(waited, 0.3) << "killed before its limit";
}

TEST(ChildProcess, ChildWithinItsTimeLimitReturnsItsValue) {
  const ChildOutcome out = run_in_child([] { return Json(42); }, "trial", 60);
  ASSERT_TRUE(out.value) << out.error;
  EXPECT_FALSE(out.timed_out);
  EXPECT_EQ(out.value->get<int>(), 42);
  // A crash within the limit is still a crash, not a timeout.
  const ChildOutcome crashed = run_in_child([]() -> Json { crash_now("abort"); }, "trial", 60);
  EXPECT_FALSE(crashed.timed_out);
  EXPECT_EQ(crashed.error, "trial crashed: SIGABRT (signal 6)");
}

// Gone, or a zombie that no one reaped (what the process became is not the question).
bool process_ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  return paren == std::string::npos || text.substr(paren + 2, 1) == "Z";
}

// A worker killed mid-trial (by mpirun tearing the job down, or by a user)
// must not leave its trial computing as an orphan.
TEST(ChildProcess, ChildDiesWithItsWorker) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t worker = ::fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    ::close(fds[0]);
    run_in_child(
        [&]() -> Json {
          const int32_t me = ::getpid();
          if (::write(fds[1], &me, sizeof me) != sizeof me) ::_exit(5);
          crash_now("hang");
        },
        "trial");
    ::_exit(0);
  }
  ::close(fds[1]);
  int32_t trial = 0;
  ASSERT_EQ(::read(fds[0], &trial, sizeof trial), static_cast<ssize_t>(sizeof trial));
  ::close(fds[0]);
  ASSERT_FALSE(process_ended(trial));
  ::kill(worker, SIGKILL);
  ::waitpid(worker, nullptr, 0);
  bool ended = false;
  for (int i = 0; i < 1000 && !ended; ++i) {  // 10 s at most; it takes microseconds
    ended = process_ended(trial);
    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ended) << "trial process " << trial << " outlived its worker";
  if (!ended) ::kill(trial, SIGKILL);
}

TEST(ChildProcess, ChildVolunteersForTheOomKiller) {
  const ChildOutcome out = run_in_child(
      [] {
        std::ifstream in("/proc/self/oom_score_adj");
        int adj = 0;
        in >> adj;
        return Json(adj);
      },
      "trial");
  ASSERT_TRUE(out.value) << out.error;
  EXPECT_EQ(out.value->get<int>(), 1000);
}

// The peak resident set of the work: a child that touches 192 MiB more than
// its parent peaks at least that much higher than one that touches nothing,
// and a crash still reports it. Measured against the parent's own resident
// set, which the child starts with.
TEST(ChildProcess, ReportsThePeakResidentSetHoweverTheChildEnds) {
  constexpr int64_t kTouched = int64_t{192} << 20;
  // Fresh pages from the kernel: a heap block could reuse memory the test
  // process had already touched (and the child inherited) before the fork.
  const auto touch = [] {
    void* p = ::mmap(nullptr, static_cast<size_t>(kTouched), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return int64_t{-1};
    char* block = static_cast<char*>(p);
    for (int64_t i = 0; i < kTouched; i += 4096) block[i] = static_cast<char>(i);
    const auto middle = static_cast<int64_t>(block[kTouched / 2]);
    ::munmap(p, static_cast<size_t>(kTouched));
    return middle;
  };
  const ChildOutcome idle = run_in_child([] { return Json(1); }, "trial");
  const ChildOutcome busy = run_in_child([&] { return Json(touch()); }, "trial");
  const ChildOutcome crashed = run_in_child(
      [&] {
        touch();
        ::raise(SIGSEGV);
        return Json();
      },
      "trial");
  ASSERT_TRUE(idle.value && busy.value);
  ASSERT_FALSE(crashed.value);
  EXPECT_GT(idle.peak_rss_bytes, 0);
  EXPECT_GE(busy.peak_rss_bytes, idle.peak_rss_bytes + kTouched * 9 / 10)
      << "idle " << idle.peak_rss_bytes << ", busy " << busy.peak_rss_bytes;
  EXPECT_GE(crashed.peak_rss_bytes, idle.peak_rss_bytes + kTouched * 9 / 10);
}

TEST(ChildProcess, SignalNames) {
  EXPECT_EQ(signal_name(11), "SIGSEGV");
  EXPECT_EQ(signal_name(9), "SIGKILL");
  EXPECT_EQ(signal_name(6), "SIGABRT");
  EXPECT_EQ(signal_name(999), "signal 999");
}

TEST(FaultInjection, ParsesIndexKindPairs) {
  const auto m = parse_crash_trials("3:segv,0:abort,12:kill,5:hang");
  EXPECT_EQ(m,
            (std::map<int64_t, std::string>{{0, "abort"}, {3, "segv"}, {5, "hang"}, {12, "kill"}}));
  EXPECT_TRUE(parse_crash_trials("").empty());
  for (const char* bad : {"3", "x:segv", "3:boom", "-1:segv", "3:segv,,4:abort"}) {
    try {
      parse_crash_trials(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("QTUNE_CRASH_TRIAL: entry '"), std::string::npos)
          << e.what();
    }
  }
}

// qtune's own parallel work (at::parallel_for, inlined here) and a real ATen
// elementwise op (parallel inside LibTorch past its grain) checked against
// std::exp. Returns how many OpenMP threads ran the parallel_for.
Json parallel_work(int threads) {
  set_compute_threads(threads);
  std::mutex mu;
  std::set<int> ids;
  at::parallel_for(0, 64, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(at::get_thread_num());
  });
  const at::Tensor x = at::linspace(-3, 3, 1 << 21, at::kFloat);
  const at::Tensor y = at::exp(x);
  const float* px = x.data_ptr<float>();
  const float* py = y.data_ptr<float>();
  double max_rel = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    max_rel =
        std::max(max_rel, std::abs(py[i] - std::exp(double{px[i]})) / std::exp(double{px[i]}));
  return Json{{"threads", static_cast<int64_t>(ids.size())}, {"max_rel_err", max_rel}};
}

// Each case runs in a freshly executed copy of this binary (the threadsafe
// death-test style), whose OpenMP history is its own: other tests in this
// process may have run parallel regions already.
class ChildOpenMp : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// What `qtune tune` does: the worker stays at one thread (its own ATen work
// runs no parallel region), the child takes two and really uses both.
TEST_F(ChildOpenMp, ChildRunsParallelAtenWhenTheParentStayedSingleThreaded) {
  EXPECT_EXIT(
      {
        set_compute_threads(1);
        const Json parent = parallel_work(1);  // the parent's own work, one thread
        const ChildOutcome out = run_in_child(
            [] {
              ::alarm(60);  // a hang becomes SIGALRM, not a stuck test
              return parallel_work(2);
            },
            "trial");
        const bool ok = parent["threads"] == 1 && out.value && (*out.value)["threads"] == 2 &&
                        (*out.value)["max_rel_err"].get<double>() < 1e-6;
        if (!ok)
          std::fprintf(stderr, "child: %s\n",
                       out.value ? out.value->dump().c_str() : out.error.c_str());
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// Why the worker stays at one thread: once it has run a parallel region,
// GNU OpenMP's pool threads are gone in the child and its next parallel
// region waits for them forever (here until the child's alarm).
TEST_F(ChildOpenMp, ChildHangsWhenTheParentRanAParallelRegion) {
  EXPECT_EXIT(
      {
        const Json parent = parallel_work(2);
        const ChildOutcome out = run_in_child(
            [] {
              ::alarm(5);
              return parallel_work(2);
            },
            "trial");
        const bool hung = parent["threads"] == 2 && !out.value &&
                          out.error == "trial crashed: SIGALRM (signal 14)";
        if (!hung)
          std::fprintf(stderr, "child: %s\n",
                       out.value ? out.value->dump().c_str() : out.error.c_str());
        std::exit(hung ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace qtune
