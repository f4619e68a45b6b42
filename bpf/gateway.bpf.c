/* Copyright: contributors to centaurus.fornax
 * Apache License 2.0 (see LICENSE)
 *
 * Fornax gateway (XDP). Attached to the gateway host's LAN and WAN interfaces (one program,
 * one set of maps).
 *
 *  From the LAN: Geneve (UDP 6081) to the gateway's LAN address. The remote gateway is looked
 *  up by (VNI, inner destination); the VNI is translated to the VNI the VPC has over there;
 *  the outer headers are rewritten (WAN addresses, peer MAC, TTL - 1, checksum) and the UDP
 *  ports set to 6081 -> 2615; the packet leaves on the WAN interface.
 *  From the WAN: UDP 2615 to the gateway's WAN address. Only known peers and, per peer, known
 *  VNIs are accepted; the packet is rewritten to the VNI's local divider with the Geneve
 *  destination port restored (6081 -> 6081) and leaves on the LAN interface.
 *  Everything else is XDP_PASS. Each verdict is counted in gw_stats.
 */
#include "fornax.h"

/* gw_config: the gateway's own addresses (array, one entry at index 0).
 *   key   (4 bytes): u32 host order, always 0.
 *   value (28 bytes, struct gw_config): [0..3] LAN IPv4 address; [4..7] WAN IPv4 address;
 *         [8..11] LAN ifindex, u32 host order; [12..15] WAN ifindex, u32 host order (0 or the
 *         receiving interface means "send back out where it came", XDP_TX); [16..21] LAN MAC;
 *         [22..27] WAN MAC. An all-zero entry (never configured) drops nothing: XDP_PASS.
 */
struct gw_config {
	__be32 lan_ip;
	__be32 wan_ip;
	__u32 lan_ifindex;
	__u32 wan_ifindex;
	__u8 lan_mac[6];
	__u8 wan_mac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gw_config);
} gw_config SEC(".maps");

/* gw_peers: the remote gateways this gateway talks to (hash).
 *   key   (4 bytes): the peer's WAN IPv4 address (network order).
 *   value (8 bytes, struct peer): [0..5] MAC address of the next hop towards the peer on the
 *         WAN link; [6..7] zero.
 */
struct peer {
	__u8 mac[6];
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __be32);
	__type(value, struct peer);
} gw_peers SEC(".maps");

/* gw_routes: remote subnets (LPM trie, no preallocation).
 *   key   (12 bytes, struct vnet_key): [0..3] prefixlen u32 host order = 32 + subnet mask
 *         length; [4..7] the local VNI, big-endian u32; [8..11] remote subnet IPv4 address.
 *   value (8 bytes, struct route): [0..3] the remote gateway's WAN IPv4 address; [4..7] the
 *         VNI to write on the WAN (the destination VPC's VNI over there), big-endian u32.
 */
struct route {
	__be32 peer_ip;
	__be32 remote_vni;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct vnet_key);
	__type(value, struct route);
} gw_routes SEC(".maps");

/* gw_ingress: which (peer, VNI) pairs may enter from the WAN, and where they go (hash).
 *   key   (8 bytes, struct pair_key): [0..3] the peer's WAN IPv4 address; [4..7] the VNI as
 *         received (already this cluster's VNI), big-endian u32.
 *   value (12 bytes, struct hop): [0..3] the VNI's local divider IPv4 address; [4..9] its MAC;
 *         [10..11] zero.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pair_key);
	__type(value, struct hop);
} gw_ingress SEC(".maps");

enum gw_stat {
	GW_PASS = 0,         /* not for the gateway: XDP_PASS */
	GW_LAN_TO_WAN = 1,   /* forwarded to a peer gateway */
	GW_WAN_TO_LAN = 2,   /* forwarded to a local divider */
	GW_MALFORMED = 3,    /* gateway port but truncated / not Geneve: XDP_DROP */
	GW_NO_ROUTE = 4,     /* from the LAN, no remote subnet for (VNI, destination): XDP_DROP */
	GW_UNKNOWN_PEER = 5, /* from the WAN, unknown source; or route to an unknown peer: DROP */
	GW_UNKNOWN_VNI = 6,  /* from the WAN, VNI not accepted from that peer: XDP_DROP */
	GW_TTL = 7,          /* outer TTL would reach 0: XDP_DROP */
	GW_STAT_MAX = 8,
};

/* gw_stats: per-verdict packet counters (per-CPU array).
 *   key   (4 bytes): u32 host order, an enum gw_stat index 0..7 (see above).
 *   value (8 bytes per CPU): u64 host order packet count.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} gw_stats SEC(".maps");

static __always_inline int count(__u32 stat, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&gw_stats, &stat);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int out(struct xdp_md *ctx, __u32 ifindex, __u32 stat)
{
	count(stat, 0);
	if (ifindex == 0 || ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(ifindex, 0);
}

static __always_inline int from_lan(struct xdp_md *ctx, struct geneve_pkt *p,
				    const struct gw_config *cfg)
{
	struct vnet_key dst = {.prefixlen = 64};
	struct route *rt;
	struct peer *pr;
	struct hop to;

	if (parse_geneve(ctx, p, 1) != PARSE_OK || !p->inner_ip)
		return count(GW_MALFORMED, XDP_DROP);
	dst.vni = p->vni;
	dst.addr = p->inner_ip->daddr;
	rt = bpf_map_lookup_elem(&gw_routes, &dst);
	if (!rt)
		return count(GW_NO_ROUTE, XDP_DROP);
	pr = bpf_map_lookup_elem(&gw_peers, &rt->peer_ip);
	if (!pr)
		return count(GW_UNKNOWN_PEER, XDP_DROP);
	if (p->ip->ttl <= 1)
		return count(GW_TTL, XDP_DROP);
	to.ip = rt->peer_ip;
	__builtin_memcpy(to.mac, pr->mac, ETH_ALEN);
	set_vni(p->gnv, rt->remote_vni);
	rewrite_outer(p, cfg->wan_mac, cfg->wan_ip, &to);
	p->udp->source = bpf_htons(GENEVE_PORT);
	p->udp->dest = bpf_htons(GATEWAY_PORT);
	return out(ctx, cfg->wan_ifindex, GW_LAN_TO_WAN);
}

static __always_inline int from_wan(struct xdp_md *ctx, struct geneve_pkt *p,
				    const struct gw_config *cfg)
{
	struct pair_key in = {};
	struct hop *to;

	if (!bpf_map_lookup_elem(&gw_peers, &p->ip->saddr))
		return count(GW_UNKNOWN_PEER, XDP_DROP);
	if (parse_geneve(ctx, p, 0) != PARSE_OK)
		return count(GW_MALFORMED, XDP_DROP);
	in.a = p->ip->saddr;
	in.b = p->vni;
	to = bpf_map_lookup_elem(&gw_ingress, &in);
	if (!to)
		return count(GW_UNKNOWN_VNI, XDP_DROP);
	if (p->ip->ttl <= 1)
		return count(GW_TTL, XDP_DROP);
	rewrite_outer(p, cfg->lan_mac, cfg->lan_ip, to);
	p->udp->source = bpf_htons(GENEVE_PORT);
	p->udp->dest = bpf_htons(GENEVE_PORT);
	return out(ctx, cfg->lan_ifindex, GW_WAN_TO_LAN);
}

SEC("xdp")
int fornax_gateway(struct xdp_md *ctx)
{
	struct geneve_pkt p = {};
	struct gw_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&gw_config, &zero);
	if (!cfg || (!cfg->lan_ip && !cfg->wan_ip))
		return count(GW_PASS, XDP_PASS);
	if (parse_outer(ctx, &p, bpf_htons(GENEVE_PORT), bpf_htons(GATEWAY_PORT)) != PARSE_OK)
		return count(GW_PASS, XDP_PASS);
	if (p.udp->dest == bpf_htons(GENEVE_PORT) && p.ip->daddr == cfg->lan_ip)
		return from_lan(ctx, &p, cfg);
	if (p.udp->dest == bpf_htons(GATEWAY_PORT) && p.ip->daddr == cfg->wan_ip)
		return from_wan(ctx, &p, cfg);
	return count(GW_PASS, XDP_PASS);
}

char LICENSE[] SEC("license") = FORNAX_LICENSE;
