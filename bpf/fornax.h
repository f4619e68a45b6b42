/* Copyright: contributors to centaurus.fornax
 * Apache License 2.0 (see LICENSE)
 *
 * Shared definitions of the Fornax XDP programs: packet parsing, header rewriting and the
 * byte layouts of map keys and values. Every layout below is mirrored, byte for byte, by
 * plugins/module_utils/bpf/layouts.py; change both together (tests/bpf/test_btf_layouts.py
 * compares them with the BTF of the compiled objects).
 *
 * Byte order convention: addresses, VNIs and ports are stored in network byte order (big
 * endian) exactly as they appear on the wire; only LPM prefix lengths, interface indexes and
 * counters are host byte order, as the kernel requires.
 */
#ifndef FORNAX_H
#define FORNAX_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* The programs' licence, as the kernel reads it: the collection's own, Apache-2.0. The kernel
 * lets a program that is not GPL-compatible call every helper these programs use (none of
 * bpf_map_*, bpf_redirect, bpf_skb_store_bytes, bpf_skb_adjust_room is GPL-only); a program
 * that needs a GPL-only helper must not be added under this licence. */
#define FORNAX_LICENSE "Apache-2.0"

#define GENEVE_PORT 6081  /* RFC 8926 */
#define GATEWAY_PORT 2615 /* UDP destination port between gateways (as in the original) */
#define ETH_P_TEB 0x6558  /* Geneve protocol type: transparent Ethernet bridging */
#define IP_MF_OFFSET 0x3fff

/* Geneve base header (RFC 8926 section 3.4), 8 bytes, followed by opt_len * 4 option bytes. */
struct genevehdr {
	__u8 ver_optlen; /* version (2 high bits, must be 0), option length in 4-byte words */
	__u8 flags;      /* O (control), C (critical options), reserved */
	__be16 proto;    /* protocol type of the payload, ETH_P_TEB for an Ethernet frame */
	__u8 vni[3];     /* 24-bit virtual network identifier, big endian */
	__u8 reserved;
};

/* A next hop on the underlay: where a rewritten packet goes.
 * 12 bytes: [0..3] IPv4 address (network order), [4..9] MAC address, [10..11] zero padding.
 */
struct hop {
	__be32 ip;
	__u8 mac[6];
	__u16 pad;
};

/* Key of the LPM tries that hold subnets per VNI (div_vnets, gw_routes).
 * 12 bytes: [0..3] prefix length in bits, host order, counted over the 64 data bits that
 * follow (32 for the VNI + the subnet's mask length); [4..7] VNI as a 32-bit big-endian
 * number (first byte 0); [8..11] IPv4 subnet address (network order).
 */
struct vnet_key {
	__u32 prefixlen;
	__be32 vni;
	__be32 addr;
};

/* Key of exact (VNI, IPv4) or (peer, VNI) lookups, 8 bytes:
 * [0..3] first field (network order), [4..7] second field (network order). */
struct pair_key {
	__be32 a;
	__be32 b;
};

/* Parsed view of an outer IPv4/UDP/Geneve packet and its inner Ethernet/IPv4 headers. */
struct geneve_pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	struct genevehdr *gnv;
	struct iphdr *inner_ip; /* NULL when the payload is not an Ethernet/IPv4 frame */
	__be32 vni;             /* 24-bit VNI widened to 32 bits, network order */
};

enum parse_result {
	PARSE_NOT_OURS = 0,  /* not IPv4/UDP to the port asked for: leave it to the kernel */
	PARSE_MALFORMED = 1, /* our port, but truncated or not a valid Geneve packet */
	PARSE_OK = 2,
};

static __always_inline __be32 vni_of(const struct genevehdr *g)
{
	return bpf_htonl(((__u32)g->vni[0] << 16) | ((__u32)g->vni[1] << 8) | g->vni[2]);
}

static __always_inline void set_vni(struct genevehdr *g, __be32 vni)
{
	__u32 v = bpf_ntohl(vni);

	g->vni[0] = (v >> 16) & 0xff;
	g->vni[1] = (v >> 8) & 0xff;
	g->vni[2] = v & 0xff;
}

/* Parse up to the UDP header; returns PARSE_OK when the outer packet is an unfragmented IPv4
 * (no options) UDP datagram to one of the two ports given (network order). */
static __always_inline int parse_outer(struct xdp_md *ctx, struct geneve_pkt *p, __be16 port_a,
				       __be16 port_b)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	p->eth = data;
	if ((void *)(p->eth + 1) > end || p->eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_OURS;
	p->ip = (void *)(p->eth + 1);
	if ((void *)(p->ip + 1) > end)
		return PARSE_NOT_OURS;
	if (p->ip->version != 4 || p->ip->ihl != 5 || p->ip->protocol != IPPROTO_UDP ||
	    (p->ip->frag_off & bpf_htons(IP_MF_OFFSET)))
		return PARSE_NOT_OURS;
	p->udp = (void *)(p->ip + 1);
	if ((void *)(p->udp + 1) > end)
		return PARSE_NOT_OURS;
	if (p->udp->dest != port_a && p->udp->dest != port_b)
		return PARSE_NOT_OURS;
	return PARSE_OK;
}

/* Parse the Geneve header that follows p->udp; with want_inner, also the inner Ethernet and
 * IPv4 headers (p->inner_ip stays NULL when the payload is something else, e.g. ARP). */
static __always_inline int parse_geneve(struct xdp_md *ctx, struct geneve_pkt *p, int want_inner)
{
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *ieth;
	__u32 optlen;

	p->inner_ip = NULL;
	p->gnv = (void *)(p->udp + 1);
	if ((void *)(p->gnv + 1) > end)
		return PARSE_MALFORMED;
	if ((p->gnv->ver_optlen >> 6) != 0 || p->gnv->proto != bpf_htons(ETH_P_TEB))
		return PARSE_MALFORMED;
	p->vni = vni_of(p->gnv);
	optlen = (p->gnv->ver_optlen & 0x3f) * 4;
	ieth = (void *)(p->gnv + 1) + optlen;
	if ((void *)(ieth + 1) > end)
		return PARSE_MALFORMED;
	if (!want_inner || ieth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_OK;
	p->inner_ip = (void *)(ieth + 1);
	if ((void *)(p->inner_ip + 1) > end)
		return PARSE_MALFORMED;
	return PARSE_OK;
}

static __always_inline void ipv4_fix_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;

	ip->check = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
}

/* Rewrite the outer headers for the next underlay hop: MACs and IPv4 addresses, TTL - 1, IPv4
 * header checksum recomputed, outer UDP checksum 0 (allowed for Geneve over IPv4). The caller
 * has checked that the TTL is above 1. */
static __always_inline void rewrite_outer(struct geneve_pkt *p, const __u8 *src_mac, __be32 src_ip,
					  const struct hop *to)
{
	__builtin_memcpy(p->eth->h_source, src_mac, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, to->mac, ETH_ALEN);
	p->ip->saddr = src_ip;
	p->ip->daddr = to->ip;
	p->ip->ttl -= 1;
	ipv4_fix_csum(p->ip);
	p->udp->check = 0;
}

#endif /* FORNAX_H */
