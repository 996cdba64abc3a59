/* Accounting of message memory. See memuse.h. */
#include "broker/memuse.h"

#include <stdatomic.h>

static _Atomic uint64_t memuse__current;
static _Atomic uint64_t memuse__maximum;
static _Atomic uint64_t memuse__limit;

void memuse_add(size_t n)
{
    uint64_t now = atomic_fetch_add_explicit(&memuse__current, n, memory_order_relaxed) + n;
    uint64_t max = atomic_load_explicit(&memuse__maximum, memory_order_relaxed);
    while (now > max &&
           !atomic_compare_exchange_weak_explicit(&memuse__maximum, &max, now, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
}

void memuse_sub(size_t n)
{
    atomic_fetch_sub_explicit(&memuse__current, n, memory_order_relaxed);
}

uint64_t memuse_current(void)
{
    return atomic_load_explicit(&memuse__current, memory_order_relaxed);
}

uint64_t memuse_maximum(void)
{
    return atomic_load_explicit(&memuse__maximum, memory_order_relaxed);
}

void memuse_set_limit(uint64_t limit)
{
    atomic_store_explicit(&memuse__limit, limit, memory_order_relaxed);
}

uint64_t memuse_limit(void)
{
    return atomic_load_explicit(&memuse__limit, memory_order_relaxed);
}

bool memuse_would_exceed(size_t n)
{
    uint64_t limit = atomic_load_explicit(&memuse__limit, memory_order_relaxed);
    if (limit == 0) {
        return false;
    }
    uint64_t cur = atomic_load_explicit(&memuse__current, memory_order_relaxed);
    return cur > limit || n > limit - cur;
}
