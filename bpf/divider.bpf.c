/* Copyright: contributors to centaurus.fornax
 * Apache License 2.0 (see LICENSE)
 *
 * Fornax divider (XDP). Attached to the divider host's underlay interface; sees the Geneve
 * packets that hosts send to the divider.
 *
 *  1. Learns where endpoints live: (VNI, inner source) -> (outer source IP, outer source MAC),
 *     except for packets from the cluster's gateway (their inner source lies in a virtual
 *     subnet), so replies to remote pods keep flowing through the gateway.
 *  2. Inner destination in a virtual subnet (a subnet of the VPC that lives in another
 *     cluster): outer headers rewritten towards the gateway, XDP_TX.
 *  3. Inner destination a known endpoint: outer headers rewritten towards its host, XDP_TX.
 *  4. Anything else: XDP_PASS (the kernel's normal path).
 */
#include "fornax.h"

/* div_vnets: the virtual subnets of this cluster's VPCs (LPM trie, no preallocation).
 *   key   (12 bytes, struct vnet_key): [0..3] prefixlen u32 host order = 32 + subnet mask
 *         length; [4..7] VNI, big-endian u32 (byte 4 is 0); [8..11] subnet IPv4 address.
 *   value (12 bytes, struct hop): [0..3] the gateway's LAN IPv4 address; [4..9] the gateway's
 *         LAN MAC address; [10..11] zero.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, struct vnet_key);
	__type(value, struct hop);
} div_vnets SEC(".maps");

/* div_endpoints: endpoint-location cache, provisioned by the control plane and refreshed by
 * learning (LRU hash).
 *   key   (8 bytes, struct pair_key): [0..3] VNI, big-endian u32 (byte 0 is 0);
 *         [4..7] endpoint (pod) IPv4 address.
 *   value (12 bytes, struct hop): [0..3] IPv4 address of the host the endpoint lives on;
 *         [4..9] that host's MAC address; [10..11] zero.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pair_key);
	__type(value, struct hop);
} div_endpoints SEC(".maps");

enum div_stat {
	DIV_PASS = 0,        /* not Geneve to port 6081 / nothing to do: XDP_PASS */
	DIV_MALFORMED = 1,   /* port 6081 but truncated or not Geneve+Ethernet: XDP_PASS */
	DIV_TO_GATEWAY = 2,  /* inner destination in a virtual subnet: XDP_TX to the gateway */
	DIV_TO_HOST = 3,     /* inner destination a known endpoint: XDP_TX to its host */
	DIV_TTL = 4,         /* outer TTL would reach 0: XDP_DROP */
	DIV_LEARNED = 5,     /* endpoint location written (in addition to the verdict) */
	DIV_FROM_GATEWAY = 6,/* packet from the gateway, not learned (in addition to the verdict) */
	DIV_STAT_MAX = 7,
};

/* div_stats: packet counters (per-CPU array).
 *   key   (4 bytes): u32 host order, an enum div_stat index 0..6 (see above).
 *   value (8 bytes per CPU): u64 host order packet count.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DIV_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} div_stats SEC(".maps");

static __always_inline int count(__u32 stat, int verdict)
{
	__u64 *n = bpf_map_lookup_elem(&div_stats, &stat);

	if (n)
		*n += 1;
	return verdict;
}

static __always_inline int same_mac(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) |
		(a[5] ^ b[5])) == 0;
}

static __always_inline void learn(struct geneve_pkt *p)
{
	struct vnet_key src_net = {.prefixlen = 64, .vni = p->vni, .addr = p->inner_ip->saddr};
	struct pair_key ep = {.a = p->vni, .b = p->inner_ip->saddr};
	struct hop here = {.ip = p->ip->saddr};
	struct hop *known;

	if (bpf_map_lookup_elem(&div_vnets, &src_net)) {
		/* inner source is remote: the packet came through the gateway */
		count(DIV_FROM_GATEWAY, 0);
		return;
	}
	__builtin_memcpy(here.mac, p->eth->h_source, ETH_ALEN);
	known = bpf_map_lookup_elem(&div_endpoints, &ep);
	if (known && known->ip == here.ip && same_mac(known->mac, here.mac))
		return;
	bpf_map_update_elem(&div_endpoints, &ep, &here, BPF_ANY);
	count(DIV_LEARNED, 0);
}

static __always_inline int send_to(struct geneve_pkt *p, const struct hop *to, __u32 stat)
{
	__u8 self_mac[ETH_ALEN];

	if (p->ip->ttl <= 1)
		return count(DIV_TTL, XDP_DROP);
	/* the packet was addressed to this divider: its destination becomes the new source */
	__builtin_memcpy(self_mac, p->eth->h_dest, ETH_ALEN);
	rewrite_outer(p, self_mac, p->ip->daddr, to);
	return count(stat, XDP_TX);
}

SEC("xdp")
int fornax_divider(struct xdp_md *ctx)
{
	struct geneve_pkt p = {};
	struct vnet_key dst_net;
	struct pair_key ep;
	struct hop *to;
	int rc;

	if (parse_outer(ctx, &p, bpf_htons(GENEVE_PORT), bpf_htons(GENEVE_PORT)) != PARSE_OK)
		return count(DIV_PASS, XDP_PASS);
	rc = parse_geneve(ctx, &p, 1);
	if (rc != PARSE_OK)
		return count(DIV_MALFORMED, XDP_PASS);
	if (!p.inner_ip)
		return count(DIV_PASS, XDP_PASS);

	learn(&p);

	dst_net.prefixlen = 64;
	dst_net.vni = p.vni;
	dst_net.addr = p.inner_ip->daddr;
	to = bpf_map_lookup_elem(&div_vnets, &dst_net);
	if (to)
		return send_to(&p, to, DIV_TO_GATEWAY);

	ep.a = p.vni;
	ep.b = p.inner_ip->daddr;
	to = bpf_map_lookup_elem(&div_endpoints, &ep);
	if (to && to->ip != p.ip->saddr)
		return send_to(&p, to, DIV_TO_HOST);
	return count(DIV_PASS, XDP_PASS);
}

char LICENSE[] SEC("license") = FORNAX_LICENSE;
