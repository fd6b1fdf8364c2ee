#pragma once
// Channel<T>: the bounded multi-producer multi-consumer queue between stages.
//
// Contract
//   * Bounded exactly: at most capacity() items are in the channel at any
//     instant. try_enqueue fails when the channel is full; the caller keeps its
//     item and reports Step::blocked (backpressure, never growth, never a drop).
//   * Non-blocking: every member returns at once; nothing waits.
//   * Order: FIFO per producer handle. Items of different producers interleave.
//   * End of stream: each producer closes its handle when it will send no
//     more; the channel is closed once every handle made has closed (or when
//     anyone calls close()). A consumer is done when closed_and_empty().
//
// Why an extra counter on top of moodycamel::ConcurrentQueue: moodycamel's
// own capacity is per producer and rounded up to whole blocks, so it bounds
// memory, not depth. Here every enqueue first reserves a slot in one atomic
// count (compare-and-swap, never beyond capacity) and every dequeue releases
// it after the item has left the queue. Cost: one contended atomic per hop on
// each side.
//
// Memory: everything is allocated at set-up. The constructor allocates the
// block pool, sized for `max_producers` producers:
//   max_producers * (ceil(capacity / k_block_items) + 2) blocks of
//   k_block_items items each.
// make_producer() allocates that producer's moodycamel state and warms it up:
// it pushes capacity-plus-a-block default-constructed items through the
// producer so the blocks it needs in steady state are already in its ring.
// After that, no member allocates, and a single-consumer channel never fails
// an enqueue below capacity. With several consumers, an enqueue below
// capacity can fail transiently while a consumer that claimed an older item
// of the same producer is descheduled before finishing (moodycamel recycles a
// block only when all its items are gone); that is reported as full, so it is
// still backpressure, and it ends when that consumer resumes.
//
// Threads
//   * Set-up (one thread, before any item flows): constructor,
//     make_producer(), make_consumer(), StageCounters::set_depth_gauge.
//   * A Producer or Consumer handle is used by one thread at a time (it may
//     move between threads with the usual happens-before, e.g. a join or a
//     runner hand-off). Different handles may be used concurrently.
//   * close(), closed(), closed_and_empty(), size(), capacity() and the
//     tokenless try_dequeue variants: any thread, any time.
//   * The channel must outlive all its handles.
//
// T: default-constructible (for the warm-up) and nothrow move-constructible,
// e.g. a plain fixed-size message struct. Pass std::make_move_iterator to the
// bulk enqueue to move instead of copy.

#include <concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace raregen::flow {

namespace detail {

struct ChannelQueueTraits : moodycamel::ConcurrentQueueDefaultTraits {
    // Every enqueue goes through a producer token (an explicit producer, whose
    // blocks are preallocated). Turning implicit producers off makes a
    // tokenless enqueue impossible instead of silently allocating a producer
    // per thread, and skips allocating the implicit-producer hash.
    static const std::size_t INITIAL_IMPLICIT_PRODUCER_HASH_SIZE = 0;
};

inline constexpr std::size_t k_cache_line = 64;

}  // namespace detail

template <class T>
class Channel {
    using Queue = moodycamel::ConcurrentQueue<T, detail::ChannelQueueTraits>;

    static_assert(std::is_nothrow_move_constructible_v<T>,
                  "Channel<T>: T must be nothrow move-constructible (a plain message type)");
    static_assert(std::is_nothrow_destructible_v<T>, "Channel<T>: T must be nothrow destructible");
    static_assert(std::is_default_constructible_v<T>,
                  "Channel<T>: T must be default-constructible (the producer warm-up uses T{})");

  public:
    // Items per moodycamel block: the unit in which memory is preallocated.
    static constexpr std::size_t k_block_items = Queue::BLOCK_SIZE;

    class Producer;
    class Consumer;

    // Throws std::invalid_argument (set-up only) if capacity or max_producers
    // is 0, or if the pool size would overflow.
    Channel(std::size_t capacity, std::size_t max_producers = 1)
        : m_queue(pool_items(capacity, max_producers)),
          m_capacity(capacity),
          m_max_producers(max_producers) {}

    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // Set-up only (allocates; see the header comment). At most max_producers
    // calls over the channel's life, all before the first item is enqueued.
    // Throws std::logic_error if either rule is broken, std::bad_alloc if
    // memory runs out.
    Producer make_producer() {
        if (m_producers_made >= m_max_producers) {
            throw std::logic_error(
                "flow::Channel: make_producer() called more than max_producers (" +
                std::to_string(m_max_producers) +
                ") times; raise max_producers where the channel is built");
        }
        if (size() != 0) {
            throw std::logic_error(
                "flow::Channel: make_producer() called after items were enqueued; make every "
                "producer while building the graph, before it runs");
        }
        Producer p(*this);
        if (!p.m_token.valid()) throw std::bad_alloc();
        warm_up(p.m_token);
        ++m_producers_made;
        m_open_producers.fetch_add(1, std::memory_order_relaxed);
        return p;
    }

    // Set-up only. Never allocates; a consumer handle makes dequeues cheaper
    // and fairer across producers than the tokenless variants.
    Consumer make_consumer() { return Consumer(*this); }

    // --- enqueue (producer handle's thread) --------------------------------

    // Moves `item` in and returns true, or returns false with `item` untouched
    // when the channel is full.
    bool try_enqueue(Producer& p, T&& item) noexcept {
        if (!reserve_one()) return false;
        if (m_queue.try_enqueue(p.m_token, std::move(item))) return true;
        release(1);  // the transient multi-consumer case in the header comment
        return false;
    }

    bool try_enqueue(Producer& p, const T& item) noexcept {
        static_assert(std::is_nothrow_copy_constructible_v<T>,
                      "Channel<T>: copying enqueue needs a nothrow copy constructor; move instead");
        if (!reserve_one()) return false;
        if (m_queue.try_enqueue(p.m_token, item)) return true;
        release(1);
        return false;
    }

    // Enqueues the first k of the `count` items at `first` (k as large as the
    // free room allows, possibly 0) and returns k; items past k are untouched.
    template <class It>
    std::size_t try_enqueue_bulk(Producer& p, It first, std::size_t count) noexcept {
        const std::size_t k = reserve_up_to(count);
        if (k == 0) return 0;
        if (m_queue.try_enqueue_bulk(p.m_token, first, k)) return k;
        release(k);
        return 0;
    }

    // --- dequeue (consumer handle's thread; tokenless: any thread) ----------

    bool try_dequeue(Consumer& c, T& out) noexcept {
        if (m_count.load(std::memory_order_relaxed) == 0) return false;  // cheap idle poll
        if (!m_queue.try_dequeue(c.m_token, out)) return false;
        release(1);
        return true;
    }

    bool try_dequeue(T& out) noexcept {
        if (m_count.load(std::memory_order_relaxed) == 0) return false;
        if (!m_queue.try_dequeue(out)) return false;
        release(1);
        return true;
    }

    // Writes up to `max` items through `out` and returns how many.
    template <class It>
    std::size_t try_dequeue_bulk(Consumer& c, It out, std::size_t max) noexcept {
        if (m_count.load(std::memory_order_relaxed) == 0) return 0;
        const std::size_t n = m_queue.try_dequeue_bulk(c.m_token, out, max);
        if (n != 0) release(n);
        return n;
    }

    template <class It>
    std::size_t try_dequeue_bulk(It out, std::size_t max) noexcept {
        if (m_count.load(std::memory_order_relaxed) == 0) return 0;
        const std::size_t n = m_queue.try_dequeue_bulk(out, max);
        if (n != 0) release(n);
        return n;
    }

    // --- end of stream ------------------------------------------------------

    // Closes the channel for everyone, whatever the producer handles say.
    // Enqueueing after close is a contract violation (the item may never be
    // read). Any thread.
    void close() noexcept { m_closed.store(true, std::memory_order_release); }

    bool closed() const noexcept { return m_closed.load(std::memory_order_acquire); }

    // True once the channel is closed and every item has been dequeued: the
    // consumer's cue to flush and finish. Once true, stays true.
    bool closed_and_empty() const noexcept {
        // The close (release) comes after the producers' last reservations, so
        // a consumer that sees it also sees those reservations in m_count.
        return m_closed.load(std::memory_order_acquire) &&
               m_count.load(std::memory_order_acquire) == 0;
    }

    // Items in the channel, including ones whose enqueue is in progress. Exact
    // at some instant during the call; for metrics and tests.
    std::size_t size() const noexcept { return m_count.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return m_capacity; }
    std::size_t max_producers() const noexcept { return m_max_producers; }

    // --- handles ------------------------------------------------------------

    class Producer {
      public:
        // A moved-from handle is closed: it may be destroyed, never used.
        Producer(Producer&& other) noexcept
            : m_channel(other.m_channel),
              m_token(std::move(other.m_token)),
              m_open(std::exchange(other.m_open, false)) {}
        // No assignment: it would silently drop the target's end of stream.
        Producer& operator=(Producer&&) = delete;

        bool try_enqueue(T&& item) noexcept {
            return m_channel->try_enqueue(*this, std::move(item));
        }
        bool try_enqueue(const T& item) noexcept { return m_channel->try_enqueue(*this, item); }
        template <class It>
        std::size_t try_enqueue_bulk(It first, std::size_t count) noexcept {
            return m_channel->try_enqueue_bulk(*this, first, count);
        }

        // This producer's end of stream. Idempotent. The channel closes when
        // the last open producer closes. Call it after the last enqueue.
        void close() noexcept {
            if (!m_open) return;
            m_open = false;
            if (m_channel->m_open_producers.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                m_channel->close();
            }
        }
        bool is_open() const noexcept { return m_open; }

        Channel& channel() const noexcept { return *m_channel; }

      private:
        friend class Channel;
        explicit Producer(Channel& c) : m_channel(&c), m_token(c.m_queue) {}

        Channel* m_channel;
        moodycamel::ProducerToken m_token;
        bool m_open = true;
    };

    class Consumer {
      public:
        Consumer(Consumer&&) noexcept = default;
        Consumer& operator=(Consumer&&) noexcept = default;

        bool try_dequeue(T& out) noexcept { return m_channel->try_dequeue(*this, out); }
        template <class It>
        std::size_t try_dequeue_bulk(It out, std::size_t max) noexcept {
            return m_channel->try_dequeue_bulk(*this, out, max);
        }
        bool closed_and_empty() const noexcept { return m_channel->closed_and_empty(); }

        Channel& channel() const noexcept { return *m_channel; }

      private:
        friend class Channel;
        explicit Consumer(Channel& c) : m_channel(&c), m_token(c.m_queue) {}

        Channel* m_channel;
        moodycamel::ConsumerToken m_token;
    };

  private:
    // Blocks a producer keeps in its ring so that `capacity` live items never
    // need another: the live items end at the block boundary being crossed, so
    // they span at most ceil((capacity - 1) / k_block_items) full blocks, plus
    // the one being entered.
    static std::size_t ring_blocks(std::size_t capacity) noexcept {
        return (capacity + k_block_items - 1) / k_block_items + 1;
    }

    static std::size_t pool_items(std::size_t capacity, std::size_t max_producers) {
        if (capacity == 0) {
            throw std::invalid_argument("flow::Channel: capacity must be at least 1");
        }
        if (max_producers == 0) {
            throw std::invalid_argument("flow::Channel: max_producers must be at least 1");
        }
        // One spare block per producer, shared, absorbs the multi-consumer
        // stall described in the header comment before it shows as "full".
        const std::size_t per_producer = ring_blocks(capacity) + 1;
        constexpr std::size_t k_limit = std::size_t{1} << 40;
        if (capacity > k_limit || max_producers > k_limit / per_producer ||
            per_producer * max_producers > k_limit / k_block_items) {
            throw std::invalid_argument(
                "flow::Channel: capacity * max_producers is too large to preallocate; lower them");
        }
        return per_producer * max_producers * k_block_items;
    }

    // Pushes ring_blocks * k_block_items items through this producer alone, so
    // its ring holds every block it will need, then takes them back out. Runs
    // before any consumer exists, so no one else sees these items.
    void warm_up(const moodycamel::ProducerToken& token) {
        const std::size_t n = ring_blocks(m_capacity) * k_block_items;
        for (std::size_t i = 0; i < n; ++i) {
            if (!m_queue.try_enqueue(token, T{})) {
                throw std::logic_error(
                    "flow::Channel: block pool exhausted during producer warm-up");
            }
        }
        T sink{};
        std::size_t back = 0;
        while (m_queue.try_dequeue_from_producer(token, sink))
            ++back;
        if (back != n) {
            throw std::logic_error("flow::Channel: producer warm-up lost items (channel in use?)");
        }
    }

    bool reserve_one() noexcept {
        std::size_t n = m_count.load(std::memory_order_relaxed);
        do {
            if (n >= m_capacity) return false;
            // Acquire pairs with release(): the slot a consumer freed is
            // visibly empty before this producer reuses its block.
        } while (!m_count.compare_exchange_weak(n, n + 1, std::memory_order_acquire,
                                                std::memory_order_relaxed));
        return true;
    }

    std::size_t reserve_up_to(std::size_t want) noexcept {
        if (want == 0) return 0;
        std::size_t n = m_count.load(std::memory_order_relaxed);
        std::size_t take = 0;
        do {
            if (n >= m_capacity) return 0;
            take = std::min(want, m_capacity - n);
        } while (!m_count.compare_exchange_weak(n, n + take, std::memory_order_acquire,
                                                std::memory_order_relaxed));
        return take;
    }

    void release(std::size_t n) noexcept { m_count.fetch_sub(n, std::memory_order_release); }

    Queue m_queue;
    const std::size_t m_capacity;
    const std::size_t m_max_producers;
    std::size_t m_producers_made = 0;  // set-up only
    alignas(detail::k_cache_line) std::atomic<std::size_t> m_count{0};
    alignas(detail::k_cache_line) std::atomic<std::size_t> m_open_producers{0};
    std::atomic<bool> m_closed{false};
};

}  // namespace raregen::flow
