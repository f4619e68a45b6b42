/* Copyright: contributors to centaurus.fornax
 * Apache License 2.0 (see LICENSE)
 *
 * Fornax host encapsulation (TC, two programs sharing one map). The minimal host side the data
 * path needs where the kernel has no Geneve device (and a faster one where it has):
 *
 *  fornax_host_encap  (tc ingress of the host end of each pod's veth): IPv4 from a known pod to
 *      an address that is not a pod of this host is wrapped in outer Ethernet/IPv4/UDP 6081/
 *      Geneve/inner Ethernet and redirected out of the uplink towards the VPC's divider.
 *  fornax_host_decap  (tc ingress of the uplink): Geneve to port 6081 whose inner destination is
 *      a pod of this host with the packet's VNI is unwrapped and redirected to the pod's veth.
 *  Everything else continues on the kernel's path (TC_ACT_OK).
 */
#include <linux/pkt_cls.h>
#include "fornax.h"

#define ENCAP_LEN (sizeof(struct iphdr) + sizeof(struct udphdr) + sizeof(struct genevehdr) + ETH_HLEN)

/* host_pods: the pods of this host (hash).
 *   key   (4 bytes): the pod's IPv4 address (network order).
 *   value (44 bytes, struct host_pod):
 *     [0..3]   VNI of the pod's VPC, big-endian u32 (byte 0 is 0)
 *     [4..7]   the VPC's divider IPv4 address
 *     [8..11]  this host's underlay IPv4 address
 *     [12..15] uplink ifindex, u32 host order
 *     [16..19] ifindex of the host end of the pod's veth, u32 host order
 *     [20..25] the divider's MAC        [26..31] the uplink's MAC
 *     [32..37] the pod's MAC            [38..43] the host end of the pod's veth: its MAC
 */
struct host_pod {
	__be32 vni;
	__be32 divider_ip;
	__be32 host_ip;
	__u32 uplink_ifindex;
	__u32 veth_ifindex;
	__u8 divider_mac[6];
	__u8 uplink_mac[6];
	__u8 pod_mac[6];
	__u8 veth_mac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __be32);
	__type(value, struct host_pod);
} host_pods SEC(".maps");

struct encap_hdr {
	struct iphdr ip;
	struct udphdr udp;
	struct genevehdr gnv;
	struct ethhdr inner;
} __attribute__((packed));

SEC("tc")
int fornax_host_encap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct encap_hdr h = {};
	struct iphdr oip = {};
	struct host_pod *pod;
	struct ethhdr outer;
	__be32 daddr;
	__u32 vni;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	daddr = ip->daddr;
	pod = bpf_map_lookup_elem(&host_pods, &ip->saddr);
	if (!pod || bpf_map_lookup_elem(&host_pods, &daddr))
		return TC_ACT_OK;

	oip.version = 4;
	oip.ihl = 5;
	oip.ttl = 64;
	oip.protocol = IPPROTO_UDP;
	oip.frag_off = bpf_htons(0x4000);
	oip.tot_len = bpf_htons(skb->len - ETH_HLEN + ENCAP_LEN);
	oip.saddr = pod->host_ip;
	oip.daddr = pod->divider_ip;
	ipv4_fix_csum(&oip);
	__builtin_memcpy(&h.ip, &oip, sizeof(oip));
	h.udp.source = bpf_htons(49152 | (bpf_ntohl(ip->saddr ^ daddr) & 0x3fff));
	h.udp.dest = bpf_htons(GENEVE_PORT);
	h.udp.len = bpf_htons(skb->len - ETH_HLEN + ENCAP_LEN - sizeof(struct iphdr));
	h.gnv.proto = bpf_htons(ETH_P_TEB);
	vni = bpf_ntohl(pod->vni);
	h.gnv.vni[0] = (vni >> 16) & 0xff;
	h.gnv.vni[1] = (vni >> 8) & 0xff;
	h.gnv.vni[2] = vni & 0xff;
	__builtin_memcpy(h.inner.h_dest, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(h.inner.h_source, eth->h_source, ETH_ALEN);
	h.inner.h_proto = bpf_htons(ETH_P_IP);
	__builtin_memcpy(outer.h_dest, pod->divider_mac, ETH_ALEN);
	__builtin_memcpy(outer.h_source, pod->uplink_mac, ETH_ALEN);
	outer.h_proto = bpf_htons(ETH_P_IP);

	if (bpf_skb_adjust_room(skb, ENCAP_LEN, BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
					BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN)))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &outer, sizeof(outer), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN, &h, sizeof(h), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(pod->uplink_ifindex, 0);
}

SEC("tc")
int fornax_host_decap(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct geneve_pkt p = {};
	struct host_pod *pod;
	struct ethhdr eth;
	__u32 optlen;

	p.eth = data;
	if ((void *)(p.eth + 1) > end || p.eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	p.ip = (void *)(p.eth + 1);
	if ((void *)(p.ip + 1) > end || p.ip->ihl != 5 || p.ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	p.udp = (void *)(p.ip + 1);
	if ((void *)(p.udp + 1) > end || p.udp->dest != bpf_htons(GENEVE_PORT))
		return TC_ACT_OK;
	p.gnv = (void *)(p.udp + 1);
	if ((void *)(p.gnv + 1) > end || p.gnv->proto != bpf_htons(ETH_P_TEB))
		return TC_ACT_OK;
	optlen = (p.gnv->ver_optlen & 0x3f) * 4;
	if (optlen)
		return TC_ACT_OK; /* this host never sends options, so it accepts none */
	p.inner_ip = (void *)(p.gnv + 1) + ETH_HLEN;
	if ((void *)(p.inner_ip + 1) > end)
		return TC_ACT_OK;
	pod = bpf_map_lookup_elem(&host_pods, &p.inner_ip->daddr);
	if (!pod || pod->vni != vni_of(p.gnv) || pod->host_ip != p.ip->daddr)
		return TC_ACT_OK;
	__builtin_memcpy(eth.h_dest, pod->pod_mac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, pod->veth_mac, ETH_ALEN);
	eth.h_proto = bpf_htons(ETH_P_IP);
	if (bpf_skb_adjust_room(skb, -(__s32)ENCAP_LEN, BPF_ADJ_ROOM_MAC, 0))
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
		return TC_ACT_SHOT;
	return bpf_redirect(pod->veth_ifindex, 0);
}

char LICENSE[] SEC("license") = FORNAX_LICENSE;
