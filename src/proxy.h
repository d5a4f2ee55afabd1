/*
 * proxy.h - which peers are reverse proxies whose X-Forwarded-* headers
 * berth believes.  Anyone can send those headers, so they count only
 * from addresses listed in http.trustedproxies.
 */
#ifndef BERTH_PROXY_H
#define BERTH_PROXY_H

#include <stdbool.h>

/*
 * Whether addr (a numeric IPv4 or IPv6 address) matches an entry of the
 * NULL-terminated list: an address, or an address/prefix-length block.
 * An IPv4-mapped IPv6 address matches its IPv4 entries.
 */
bool proxy_trusted(char *const *list, const char *addr);

/* Whether addr is a numeric IPv4 or IPv6 address. */
bool proxy_address_valid(const char *addr);

/* Whether every entry of list is a valid address or block. */
bool proxy_list_valid(char *const *list, const char **bad);

#endif
