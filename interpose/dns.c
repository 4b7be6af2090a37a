/* SPDX-License-Identifier: MIT */
/*
 * interpose/dns.c - name resolution: getaddrinfo(3), getnameinfo(3),
 * gethostbyname(3), gethostbyname_r, gethostbyname2, gethostbyname2_r,
 * gethostbyaddr, gethostbyaddr_r.
 *
 * These block inside libc (NSS modules, the stub resolver's own sockets
 * and poll) where interposition cannot reach, so from a fiber the real
 * function runs on the offload pool (core/offload.h) while the fiber is
 * parked (DESIGN 9); everywhere else it is called straight through.
 *
 * Exactly libc's results: the pool thread runs the real function on the
 * caller's arguments (output buffers included), and the thread-locals the
 * contract covers are carried both ways: the caller's errno and h_errno
 * are copied to the pool thread before the call, and the pool thread's
 * copied back after it, so a value libc leaves alone stays as it was and
 * a value libc sets arrives as libc set it.  gethostbyname,
 * gethostbyname2 and gethostbyaddr return glibc's per-process static
 * storage, the same whichever thread fills it.
 *
 * Known difference: per-thread resolver state (_res, changed by the
 * program with res_init() or by editing _res.options on its own thread)
 * is the pool thread's, not the caller's.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>

#include "core/offload.h"
#include "interpose/interpose.h"

/* ---- the real functions, resolved once on first use ---- */


static void *_Atomic slot_getaddrinfo, *_Atomic slot_getnameinfo,
	*_Atomic slot_gethostbyname, *_Atomic slot_gethostbyname2,
	*_Atomic slot_gethostbyaddr, *_Atomic slot_gethostbyname_r,
	*_Atomic slot_gethostbyname2_r, *_Atomic slot_gethostbyaddr_r;

#define DNS_REAL(name) ((__typeof__(&name))dt_real_sym(&slot_##name, #name))

/* ---- one call, as the pool thread sees it ---- */

enum dns_op {
	OP_GETADDRINFO, OP_GETNAMEINFO,
	OP_BYNAME, OP_BYNAME2, OP_BYADDR,
	OP_BYNAME_R, OP_BYNAME2_R, OP_BYADDR_R,
};

struct dns_call {
	enum dns_op op;
	/* arguments, as the caller passed them */
	const char *name;		/* host name; getaddrinfo's node */
	const char *service;		/* getaddrinfo */
	const struct addrinfo *hints;
	struct addrinfo **res;
	const void *addr;		/* sockaddr for getnameinfo */
	socklen_t addrlen;
	char *host, *serv;		/* getnameinfo outputs */
	socklen_t hostlen, servlen;
	int flags;			/* getnameinfo */
	int af;				/* gethostbyname2*, *byaddr* */
	struct hostent *rbuf;		/* *_r */
	char *buf;
	size_t buflen;
	struct hostent **result;
	int *h_errnop;
	/* results */
	int ret;			/* int-returning functions */
	struct hostent *hret;		/* the non-_r functions */
	int err;			/* errno: caller's in, libc's out */
	int herr;			/* h_errno: the same */
};

static void dns_run(void *p)
{
	struct dns_call *c = p;

	errno = c->err;
	h_errno = c->herr;
	switch (c->op) {
	case OP_GETADDRINFO:
		c->ret = DNS_REAL(getaddrinfo)(c->name, c->service, c->hints,
					       c->res);
		break;
	case OP_GETNAMEINFO:
		c->ret = DNS_REAL(getnameinfo)(c->addr, c->addrlen, c->host,
					       c->hostlen, c->serv,
					       c->servlen, c->flags);
		break;
	case OP_BYNAME:
		c->hret = DNS_REAL(gethostbyname)(c->name);
		break;
	case OP_BYNAME2:
		c->hret = DNS_REAL(gethostbyname2)(c->name, c->af);
		break;
	case OP_BYADDR:
		c->hret = DNS_REAL(gethostbyaddr)(c->addr, c->addrlen, c->af);
		break;
	case OP_BYNAME_R:
		c->ret = DNS_REAL(gethostbyname_r)(c->name, c->rbuf, c->buf,
						   c->buflen, c->result,
						   c->h_errnop);
		break;
	case OP_BYNAME2_R:
		c->ret = DNS_REAL(gethostbyname2_r)(c->name, c->af, c->rbuf,
						    c->buf, c->buflen,
						    c->result, c->h_errnop);
		break;
	case OP_BYADDR_R:
		c->ret = DNS_REAL(gethostbyaddr_r)(c->addr, c->addrlen, c->af,
						   c->rbuf, c->buf, c->buflen,
						   c->result, c->h_errnop);
		break;
	}
	c->err = errno;
	c->herr = h_errno;
}

/* Run c on the pool with the caller's errno/h_errno, and give the caller
 * libc's.  Only when dt_may_park(). */
static void dns_offload(struct dns_call *c)
{
	c->err = errno;
	c->herr = h_errno;
	dt_offload(dns_run, c);
	h_errno = c->herr;
	errno = c->err;
}

/* ---- the entry points ---- */

DT_API int getaddrinfo(const char *node, const char *service,
		       const struct addrinfo *hints, struct addrinfo **res)
{
	struct dns_call c = { .op = OP_GETADDRINFO, .name = node,
			      .service = service, .hints = hints, .res = res };

	if (!dt_may_park())
		return DNS_REAL(getaddrinfo)(node, service, hints, res);
	dns_offload(&c);
	return c.ret;
}

DT_API int getnameinfo(const struct sockaddr *sa, socklen_t salen,
		       char *host, socklen_t hostlen, char *serv,
		       socklen_t servlen, int flags)
{
	struct dns_call c = { .op = OP_GETNAMEINFO, .addr = sa,
			      .addrlen = salen, .host = host,
			      .hostlen = hostlen, .serv = serv,
			      .servlen = servlen, .flags = flags };

	if (!dt_may_park())
		return DNS_REAL(getnameinfo)(sa, salen, host, hostlen, serv,
					     servlen, flags);
	dns_offload(&c);
	return c.ret;
}

DT_API struct hostent *gethostbyname(const char *name)
{
	struct dns_call c = { .op = OP_BYNAME, .name = name };

	if (!dt_may_park())
		return DNS_REAL(gethostbyname)(name);
	dns_offload(&c);
	return c.hret;
}

DT_API struct hostent *gethostbyname2(const char *name, int af)
{
	struct dns_call c = { .op = OP_BYNAME2, .name = name, .af = af };

	if (!dt_may_park())
		return DNS_REAL(gethostbyname2)(name, af);
	dns_offload(&c);
	return c.hret;
}

DT_API struct hostent *gethostbyaddr(const void *addr, socklen_t len,
				     int type)
{
	struct dns_call c = { .op = OP_BYADDR, .addr = addr, .addrlen = len,
			      .af = type };

	if (!dt_may_park())
		return DNS_REAL(gethostbyaddr)(addr, len, type);
	dns_offload(&c);
	return c.hret;
}

DT_API int gethostbyname_r(const char *name, struct hostent *rbuf,
			   char *buf, size_t buflen, struct hostent **result,
			   int *h_errnop)
{
	struct dns_call c = { .op = OP_BYNAME_R, .name = name, .rbuf = rbuf,
			      .buf = buf, .buflen = buflen, .result = result,
			      .h_errnop = h_errnop };

	if (!dt_may_park())
		return DNS_REAL(gethostbyname_r)(name, rbuf, buf, buflen,
						 result, h_errnop);
	dns_offload(&c);
	return c.ret;
}

DT_API int gethostbyname2_r(const char *name, int af, struct hostent *rbuf,
			    char *buf, size_t buflen,
			    struct hostent **result, int *h_errnop)
{
	struct dns_call c = { .op = OP_BYNAME2_R, .name = name, .af = af,
			      .rbuf = rbuf, .buf = buf, .buflen = buflen,
			      .result = result, .h_errnop = h_errnop };

	if (!dt_may_park())
		return DNS_REAL(gethostbyname2_r)(name, af, rbuf, buf, buflen,
						  result, h_errnop);
	dns_offload(&c);
	return c.ret;
}

DT_API int gethostbyaddr_r(const void *addr, socklen_t len, int type,
			   struct hostent *rbuf, char *buf, size_t buflen,
			   struct hostent **result, int *h_errnop)
{
	struct dns_call c = { .op = OP_BYADDR_R, .addr = addr,
			      .addrlen = len, .af = type, .rbuf = rbuf,
			      .buf = buf, .buflen = buflen, .result = result,
			      .h_errnop = h_errnop };

	if (!dt_may_park())
		return DNS_REAL(gethostbyaddr_r)(addr, len, type, rbuf, buf,
						 buflen, result, h_errnop);
	dns_offload(&c);
	return c.ret;
}
