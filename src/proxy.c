/*
 * proxy.c - matching a peer's address against address blocks.
 */
#include "proxy.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* An address as 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
struct ip {
	unsigned char b[16];
};

static bool parse_ip(const char *s, struct ip *ip, bool *v4)
{
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memset(ip->b, 0, 10);
		ip->b[10] = ip->b[11] = 0xff;
		memcpy(ip->b + 12, &a4, 4);
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, s, ip->b) == 1;
}

/* Parses "addr" or "addr/len" into a block of prefix bits. */
static bool parse_block(const char *entry, struct ip *ip, unsigned *bits)
{
	const char *slash = strchr(entry, '/');
	char *addr = slash ? xstrndup(entry, (size_t)(slash - entry))
			   : xstrdup(entry);
	bool v4, ok = parse_ip(addr, ip, &v4);
	unsigned max = v4 ? 32 : 128;
	char *end;

	free(addr);
	if (!ok)
		return false;
	*bits = 128;
	if (slash) {
		unsigned long n = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || n > max)
			return false;
		*bits = (unsigned)n + (v4 ? 96 : 0);
	}
	return true;
}

static bool in_block(const struct ip *a, const struct ip *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a->b, net->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->b[full] ^ net->b[full]) & (0xff << (8 - rest))) == 0;
}

bool proxy_trusted(char *const *list, const char *addr)
{
	struct ip a, net;
	unsigned bits;
	bool v4;

	if (!list || !addr || !parse_ip(addr, &a, &v4))
		return false;
	for (; *list; list++)
		if (parse_block(*list, &net, &bits) && in_block(&a, &net, bits))
			return true;
	return false;
}

bool proxy_address_valid(const char *addr)
{
	struct ip ip;
	bool v4;

	return parse_ip(addr, &ip, &v4);
}

bool proxy_list_valid(char *const *list, const char **bad)
{
	struct ip net;
	unsigned bits;

	for (; list && *list; list++)
		if (!parse_block(*list, &net, &bits)) {
			*bad = *list;
			return false;
		}
	return true;
}
