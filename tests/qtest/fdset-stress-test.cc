// Eight QMP monitors at once, each adding and removing 1000 fds over SCM_RIGHTS: every
// reply arrives (matched by its id), every add-fd gets a distinct fd, nothing is left in
// query-fdsets, and the emulator's /proc/PID/fd returns to its baseline.
#include <glib.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/qtest/libqtest.h"

namespace {

using qtest::JsonValue;
using qtest::QmpConnection;
using qtest::QTestState;

constexpr int kMonitors = 8;
constexpr int kFdsPerMonitor = 1000;

struct Worker {
    std::string socket_path;
    std::vector<int> fds_seen;
    std::string failure;
};

// How many fds one worker may hold at a time: all 1000 when the emulator's hard limit
// (which it raises its soft limit to) allows it, fewer otherwise.
int batch_size()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY) {
        return kFdsPerMonitor;
    }
    int64_t spare = static_cast<int64_t>(limit.rlim_max) - 256;
    return static_cast<int>(std::clamp<int64_t>(spare / kMonitors, 16, kFdsPerMonitor));
}

// One monitor's work: add fds in batches (half with an explicit id of its own range, half
// with an automatic one), then remove each by set and fd. Returns on the first problem.
void run_worker(Worker& worker, int index, int batch)
{
    auto conn = QmpConnection::connect_unix(worker.socket_path);
    if (!conn->receive().contains("QMP") || !conn->command("{ 'execute': 'qmp_capabilities' }").contains("return")) {
        worker.failure = "negotiation failed";
        return;
    }
    qemu::UniqueFd memfd = qtest::make_memfd("stress-" + std::to_string(index));
    int raw = memfd.get();
    int64_t request_id = 0;
    auto command = [&](const JsonValue& request, bool with_fd) -> JsonValue {
        JsonValue tagged = request;
        tagged["id"] = ++request_id;
        std::string text = qemu::json_to_string(tagged);
        if (with_fd) {
            conn->send_with_fds(std::span<const int>(&raw, 1), text);
        } else {
            conn->send(text);
        }
        JsonValue reply = conn->receive();
        if (reply.value("id", JsonValue()) != request_id || !reply.contains("return")) {
            worker.failure = "unexpected reply to " + text + ": " + qemu::json_to_string(reply);
        }
        return reply.value("return", JsonValue());
    };

    for (int done = 0; done < kFdsPerMonitor && worker.failure.empty(); done += batch) {
        std::vector<std::pair<int64_t, int64_t>> added;
        for (int i = done; i < std::min(done + batch, kFdsPerMonitor) && worker.failure.empty(); ++i) {
            JsonValue args = JsonValue::object();
            if (i % 2 == 0) {
                args["fdset-id"] = 1'000'000 * (index + 1) + i;
            }
            JsonValue ret = command({{"execute", "add-fd"}, {"arguments", args}}, true);
            if (worker.failure.empty()) {
                // Every fd of a batch is open at once, so their numbers must differ.
                if (std::any_of(added.begin(), added.end(), [&](auto& entry) { return entry.second == ret["fd"]; })) {
                    worker.failure = "fd " + qemu::json_to_string(ret["fd"]) + " handed out twice";
                }
                added.emplace_back(ret["fdset-id"].get<int64_t>(), ret["fd"].get<int64_t>());
                worker.fds_seen.push_back(static_cast<int>(ret["fd"].get<int64_t>()));
            }
        }
        for (auto [set, fd] : added) {
            if (!worker.failure.empty()) {
                break;
            }
            command({{"execute", "remove-fd"}, {"arguments", {{"fdset-id", set}, {"fd", fd}}}}, false);
        }
    }
}

TEST(FdsetStress, EightMonitorsAddAndRemoveAThousandFdsEach)
{
    std::string base = std::string(g_get_tmp_dir()) + "/fdset-stress-" + std::to_string(::getpid()) + "-";
    std::vector<Worker> workers(kMonitors);
    std::string args = "-nodefaults -machine none";
    for (int i = 0; i < kMonitors; ++i) {
        workers[static_cast<size_t>(i)].socket_path = base + std::to_string(i) + ".qmp";
        args += " -qmp unix:" + workers[static_cast<size_t>(i)].socket_path + ",server=on,wait=off";
    }
    auto qts = QTestState::init(args);
    size_t baseline = qts->open_fds().size();
    int batch = batch_size();

    std::vector<std::thread> threads;
    for (int i = 0; i < kMonitors; ++i) {
        threads.emplace_back([&workers, i, batch] {
            try {
                run_worker(workers[static_cast<size_t>(i)], i, batch);
            } catch (const std::exception& e) {
                workers[static_cast<size_t>(i)].failure = e.what();
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }

    for (int i = 0; i < kMonitors; ++i) {
        const Worker& worker = workers[static_cast<size_t>(i)];
        EXPECT_EQ(worker.failure, "") << "monitor " << i;
        EXPECT_EQ(worker.fds_seen.size(), static_cast<size_t>(kFdsPerMonitor)) << "monitor " << i;
        ::unlink(worker.socket_path.c_str());
    }
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-fdsets' }"), JsonValue::array());
    EXPECT_TRUE(qts->wait_open_fd_count(baseline)) << qts->open_fds().size() << " fds open, baseline " << baseline;
    for (int i = 0; i < kMonitors; ++i) {
        EXPECT_EQ(qts->count_memfds("stress-" + std::to_string(i)), 0u);
    }
    // The emulator is still healthy.
    EXPECT_EQ(qts->qmp_assert_success("{ 'execute': 'query-status' }")["status"], "running");
}

}  // namespace
