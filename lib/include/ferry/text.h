/* Small text helpers that both sides parse with: port ranges in the
 * agent's --allow and the relay's --policy, comma lists in HTTP header
 * values (the ingress's Upgrade check, the agent's 101). No I/O. */
#ifndef FERRY_TEXT_H
#define FERRY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "22", "8000-8099" or "*" (1-65535) into *lo, *hi. Digits and one '-'
 * only. 0, or -1 when s is none of those or out of 1..65535. */
int fy_port_range_parse(const char *s, uint16_t *lo, uint16_t *hi);
/* Whether the comma-separated list v[0..n) holds token, any case, blanks
 * around each element ignored ("keep-alive, Upgrade" holds "upgrade"). */
bool fy_list_has_token(const char *v, size_t n, const char *token);

#endif
