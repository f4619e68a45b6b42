/* Copyright: contributors to centaurus.fornax
 * Apache License 2.0 (see LICENSE)
 *
 * fornax_blast: a small packet generator for the gateway benchmark (bench/groups/gateway.py).
 *
 * It sends pre-built Ethernet frames, unchanged, out of one interface as fast as it can,
 * through an AF_PACKET socket with PACKET_QDISC_BYPASS (straight to the driver's transmit
 * function, no qdisc) and sendmmsg() batches (one system call per BATCH frames). The kernel's
 * pktgen would do the same, but the kernels we run on have no modules.
 *
 *   fornax_blast IFNAME FRAMES_FILE COUNT SECONDS [BATCH]
 *
 * FRAMES_FILE holds one or more complete frames (destination MAC first, no FCS), each preceded
 * by its length as a 2-byte big-endian number; they are sent round robin. The run is bounded
 * twice: it stops after COUNT frames or after SECONDS seconds, whichever comes first. At the
 * end it prints one line "sent <frames> <seconds> <errors>" on stdout (frames accepted by the
 * kernel, elapsed wall-clock seconds, failed sendmmsg calls) and exits 0.
 *
 * Build: cc -O2 -Wall -o fornax_blast fornax_blast.c (no library beyond libc).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 256   /* distinct frames kept from FRAMES_FILE */
#define MAX_FRAME 2048   /* largest frame accepted (no jumbo frames here) */
#define MAX_BATCH 1024   /* largest sendmmsg batch */
#define MAX_ERRORS 100000 /* give up after this many failed calls (e.g. interface gone) */

struct frame {
	uint16_t len;
	uint8_t data[MAX_FRAME];
};

static struct frame frames[MAX_FRAMES];
static struct mmsghdr msgs[MAX_BATCH];
static struct iovec iovs[MAX_BATCH];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* Read the length-prefixed frames of path into frames[]; returns how many were read. */
static int load_frames(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t head[2];
	int n = 0;

	if (!f)
		die(path);
	while (n < MAX_FRAMES && fread(head, 1, 2, f) == 2) {
		uint16_t len = (uint16_t)(head[0] << 8 | head[1]);

		if (len < ETH_HLEN || len > MAX_FRAME) {
			fprintf(stderr, "%s: frame %d has a bad length %u\n", path, n, len);
			exit(2);
		}
		if (fread(frames[n].data, 1, len, f) != len) {
			fprintf(stderr, "%s: frame %d is truncated\n", path, n);
			exit(2);
		}
		frames[n++].len = len;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "%s: no frames\n", path);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll addr = {0};
	unsigned long long count, sent = 0, errors = 0;
	double seconds, started, deadline;
	int fd, one = 1, nframes, batch = 64, next = 0;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: %s IFNAME FRAMES_FILE COUNT SECONDS [BATCH]\n", argv[0]);
		return 2;
	}
	count = strtoull(argv[3], NULL, 10);
	seconds = strtod(argv[4], NULL);
	if (argc == 6)
		batch = atoi(argv[5]);
	if (batch < 1 || batch > MAX_BATCH || seconds <= 0 || seconds > 600) {
		fprintf(stderr, "BATCH must be 1..%d and SECONDS 0..600\n", MAX_BATCH);
		return 2;
	}
	nframes = load_frames(argv[2]);

	/* Protocol 0: this socket only sends, it receives nothing. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die("socket(AF_PACKET)");
	addr.sll_family = AF_PACKET;
	addr.sll_protocol = 0; /* bound to the interface, but no receive hook */
	addr.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (addr.sll_ifindex == 0)
		die(argv[1]);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	/* Hand frames straight to the device (dev_direct_xmit): the generator's cost stays small
	 * and no qdisc sits between it and the gateway. Best effort: older kernels lack it. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		perror("PACKET_QDISC_BYPASS (continuing without)");

	/* One message per batch slot; each points at a frame, cycling through frames[]. The
	 * interface comes from bind(), so msg_name stays empty; the kernel reads the EtherType
	 * from the frame itself. */
	for (int i = 0; i < batch; i++) {
		iovs[i].iov_base = frames[next].data;
		iovs[i].iov_len = frames[next].len;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		next = (next + 1) % nframes;
	}

	started = now();
	deadline = started + seconds;
	/* Bounded loop: every pass sends at most `batch` frames and checks both bounds. */
	while (sent < count && errors < MAX_ERRORS) {
		unsigned int want = batch;
		int rc;

		if (now() >= deadline)
			break;
		if (count - sent < want)
			want = (unsigned int)(count - sent);
		rc = sendmmsg(fd, msgs, want, 0);
		if (rc < 0) {
			/* ENOBUFS / EAGAIN: the device or socket buffer is full for a moment */
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				die("sendmmsg");
			errors++;
			continue;
		}
		sent += (unsigned long long)rc;
	}
	printf("sent %llu %.6f %llu\n", sent, now() - started, errors);
	close(fd);
	return 0;
}
