/* Time for ferry: one monotonic clock, read by the owner of an event loop
 * once per turn and passed into the protocol code (mux, engine, TCP
 * stack), which never reads a clock itself. */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds / microseconds. */
uint64_t fy_now_ms(void);
uint64_t fy_now_us(void);

/* A cycle counter (TSC) to microseconds, exact for any 64-bit count: the
 * naive cycles * 1000000 / hz overflows after 2^64 / 10^6 cycles (about
 * 2.4 hours at 2.1 GHz) and time then stands still. hz must be non-zero
 * and below 1.8e13. */
static inline uint64_t fy_cycles_to_us(uint64_t cycles, uint64_t hz)
{
	return cycles / hz * 1000000u + cycles % hz * 1000000u / hz;
}

#endif
