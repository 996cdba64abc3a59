/* The timer heap: order, ties, stop and restart at any position. */
#include <stdlib.h>

#include "broker/timer.h"
#include "test.h"

#define N 500

TEST(pops_in_deadline_order)
{
    static wtimer_t t[N];
    wtimer_heap_t h;
    wtimer_heap_init(&h);
    srand(7);
    for (int i = 0; i < N; i++) {
        wtimer_init(&t[i]);
        CHECK_EQ_INT(wtimer_heap_add(&h, &t[i], (uint64_t)(rand() % 1000)), 0);
    }
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        wtimer_t *top = wtimer_heap_peek(&h);
        CHECK(top != NULL);
        CHECK(top->deadline >= last);
        last = top->deadline;
        wtimer_heap_remove(&h, top);
        CHECK(!wtimer_active(top));
    }
    CHECK(wtimer_heap_peek(&h) == NULL);
    wtimer_heap_free(&h);
}

TEST(equal_deadlines_fire_in_start_order)
{
    wtimer_t t[8];
    wtimer_heap_t h;
    wtimer_heap_init(&h);
    for (int i = 0; i < 8; i++) {
        wtimer_init(&t[i]);
        wtimer_heap_add(&h, &t[i], 100);
    }
    for (int i = 0; i < 8; i++) {
        wtimer_t *top = wtimer_heap_peek(&h);
        CHECK(top == &t[i]);
        wtimer_heap_remove(&h, top);
    }
    wtimer_heap_free(&h);
}

TEST(stop_anywhere_and_restart_keep_heap_valid)
{
    static wtimer_t t[N];
    wtimer_heap_t h;
    wtimer_heap_init(&h);
    srand(11);
    for (int i = 0; i < N; i++) {
        wtimer_init(&t[i]);
        wtimer_heap_add(&h, &t[i], (uint64_t)(rand() % 10000));
    }
    /* Remove every third, restart every fifth with a new deadline, stop
     * some twice: the heap must still pop in order with the right count. */
    int expect = N;
    for (int i = 0; i < N; i += 3) {
        wtimer_heap_remove(&h, &t[i]);
        wtimer_heap_remove(&h, &t[i]);
        expect--;
    }
    for (int i = 1; i < N; i += 5) {
        if (!wtimer_active(&t[i]))
            expect++;
        wtimer_heap_add(&h, &t[i], (uint64_t)(rand() % 10000));
    }
    CHECK_EQ_INT(h.len, expect);
    for (size_t i = 0; i < h.len; i++)
        CHECK(h.items[i]->index == i);
    uint64_t last = 0;
    int popped = 0;
    wtimer_t *top;
    while ((top = wtimer_heap_peek(&h))) {
        CHECK(top->deadline >= last);
        last = top->deadline;
        wtimer_heap_remove(&h, top);
        popped++;
    }
    CHECK_EQ_INT(popped, expect);
    wtimer_heap_free(&h);
}

TEST(free_marks_timers_inactive)
{
    wtimer_t a, b;
    wtimer_heap_t h;
    wtimer_heap_init(&h);
    wtimer_init(&a);
    wtimer_init(&b);
    wtimer_heap_add(&h, &a, 5);
    wtimer_heap_add(&h, &b, 1);
    wtimer_heap_free(&h);
    CHECK(!wtimer_active(&a));
    CHECK(!wtimer_active(&b));
}

int main(void)
{
    RUN(pops_in_deadline_order);
    RUN(equal_deadlines_fire_in_start_order);
    RUN(stop_anywhere_and_restart_keep_heap_valid);
    RUN(free_marks_timers_inactive);
    return TEST_REPORT();
}
