/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vfuzz: a seeded ring fuzzer for /dev/vhost-blk.
 *
 * The fuzzer plays a hostile guest. Each round it builds chains on the
 * queues of a device (well-formed requests, malformed ones, random junk,
 * heads offered twice, avail index jumps), makes them available, maybe
 * disturbs the device mid-flight (memory-table changes, detach and
 * re-attach, RESET_OWNER, close, bad ioctls) and waits for the used ring.
 *
 * What the device must do with every chain comes from a model (model.c):
 * the vhost core's vhost_get_vq_desc() and vhost-blk's request parsing
 * replayed in userspace on the very bytes the device reads. Every used
 * entry is checked against it (status byte, used length, data read, no
 * write outside the chain's writable buffers), and a shadow of the backend
 * (shadow.c) checks that data land where, and only where, requests put
 * them. A chain the model says the vhost core refuses must break its ring
 * (error eventfd, last_avail_idx stuck there); the device is then closed and
 * the fuzzer goes on with a fresh one.
 *
 *   rng.c     the seeded random stream
 *   model.c   what the device does with a chain
 *   shadow.c  what the backend must hold; initial fill and final checks
 *   chain.c   guest memory of requests, descriptors, publishing
 *   gen.c     the generators: well-formed, malformed, junk, ring tails
 *   round.c   one round: build, publish, kick, disturb, reap, check
 *   device.c  a device's life: options, attach, config, ioctls
 *   owner.c   a child owner killed at a random point
 *   log.c     dirty logging: every page written is logged, nothing else
 *   report.c  failures, counters, summary, module counters
 *   main.c    options and the main loop
 */
#ifndef VFUZZ_H
#define VFUZZ_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "vblk.h"

#define FZ_MAX_IOV	1024	/* UIO_MAXIOV: the vhost core's iovec array */
#define FZ_IND_MAX	65536	/* most descriptors in one indirect table */
#define FZ_MAX_BYTES	(8u << 20)	/* data bytes of one request */
#define FZ_SEG_MAX	128	/* seg_max: reported; bytes are enforced */
#define FZ_DWZ_SEG_MAX	16	/* discard / write-zeroes segments */
#define FZ_SERIAL_LEN	VHOST_BLK_SERIAL_LEN
#define FZ_STATUS_FRESH	VBLK_STATUS_UNSET
#define FZ_CANARY	0xc5
#define FZ_NONE		UINT_MAX	/* no refused chain on the queue */

/* ------------------------------------------------------------------------
 * rng.c
 */
struct fz_rng {
	uint64_t s[4];
};

void fz_rng_seed(struct fz_rng *r, uint64_t seed);
uint64_t fz_next(struct fz_rng *r);
/* [0, n); 0 when n is 0. */
uint64_t fz_below(struct fz_rng *r, uint64_t n);
/* [lo, hi] */
uint64_t fz_range(struct fz_rng *r, uint64_t lo, uint64_t hi);
/* True with probability per_mille / 1000. */
bool fz_pm(struct fz_rng *r, unsigned int per_mille);
/* An index into @w[0..n) with probability proportional to w[i]. */
unsigned int fz_pick(struct fz_rng *r, const unsigned int *w, unsigned int n);
void fz_fill(struct fz_rng *r, void *buf, size_t len);

/* ------------------------------------------------------------------------
 * model.c
 */

/* One guest-physical range of the memory table, as the vhost core keeps it. */
struct fz_map {
	uint64_t start, last;
	uint8_t *hva;
	bool fault;		/* the owner has nothing mapped there */
};

#define FZ_TABLE_MAX	8
struct fz_table {
	struct fz_map m[FZ_TABLE_MAX];
	unsigned int n;
};

struct fz_iov {
	uint8_t *base;
	uint64_t len;
	bool fault;		/* in memory the device cannot touch */
};

/* What the device knows about its backend, as far as requests care. */
struct fz_devmodel {
	uint64_t capacity;	/* sectors */
	uint32_t lbs;		/* bytes */
	bool ro;
	uint32_t discard_sectors;	/* the backend's, read-only or not */
	uint32_t zeroes_sectors;
	uint8_t serial[FZ_SERIAL_LEN];
};

enum fz_effect {
	FZ_EFF_NONE,
	FZ_EFF_READ,		/* data: where the backend's bytes go */
	FZ_EFF_WRITE,		/* data: what goes to the backend */
	FZ_EFF_GETID,		/* data: where the serial goes */
	FZ_EFF_ZERO,		/* segs: ranges that read back as zeroes */
	FZ_EFF_DISCARD,		/* segs: ranges that may read back as zeroes */
};

/* What the device must do with one chain. */
struct fz_outcome {
	bool reject;		/* the vhost core refuses it: the ring breaks */
	char why[112];
	bool has_status;	/* else used length 0 and nothing written */
	bool status_lost;	/* the status byte is in unmapped memory */
	bool ring_err;		/* no status to give: the error eventfd */
	uint8_t *status_ptr;
	uint8_t status;
	bool unsupp_ok;		/* UNSUPP is fine too (the backend cannot) */
	uint32_t used_ok;	/* used length when the status is OK */
	uint32_t type;
	uint64_t sector;
	uint8_t effect;
	bool data_overlap;	/* writable buffers overlap: data unverifiable */
	uint64_t len;		/* bytes of data */
	unsigned int ndata;
	struct fz_iov *data;	/* malloc'd */
	unsigned int nsegs;
	struct virtio_blk_discard_write_zeroes segs[FZ_DWZ_SEG_MAX];
	/* The device-writable descriptors of the chain with bytes (indirect
	 * tables' too), guest-physical: what the dirty log must hold once it
	 * completes. malloc'd; not for refused chains. */
	struct fz_wdesc {
		uint64_t gpa;
		uint32_t len;
	} *wdesc;
	unsigned int nwdesc;
};

/* Scratch space of the model (too big for the stack of every call). */
struct fz_model {
	struct fz_iov iov[FZ_MAX_IOV];
	struct fz_iov tiov[FZ_MAX_IOV];
	struct fz_wdesc wdesc[FZ_MAX_IOV];	/* each takes an iovec at least */
	unsigned int nwdesc;
};

/*
 * Replay vhost_get_vq_desc() on the ring descriptor table @desc (of @num)
 * from @head, then vhost-blk's parsing, on the current guest memory.
 * o->data is malloc'd (fz_outcome_free()).
 */
void fz_model_chain(struct fz_model *mx, const struct fz_table *t,
		    const struct fz_devmodel *m, const struct vring_desc *desc,
		    unsigned int num, uint32_t head, struct fz_outcome *o);
void fz_outcome_free(struct fz_outcome *o);
/* Only the data iovecs (o->data): the descriptors stay for the log check. */
void fz_outcome_free_data(struct fz_outcome *o);
/* Copy @len bytes at offset @skip of the iovecs into @buf: bytes copied. */
uint64_t fz_iov_gather(const struct fz_iov *iov, unsigned int n,
		       uint64_t skip, void *buf, uint64_t len);

/* ------------------------------------------------------------------------
 * shadow.c: the backend's expected content, sector by sector
 */

#define FZ_ALTS		4
#define FZ_GEN_ZERO	0u		/* all zero bytes */
#define FZ_GEN_OTHER	0xffffffffu	/* bytes of a malformed request */

struct fz_sect {
	uint64_t h[FZ_ALTS];	/* hashes of what the sector may hold */
	uint32_t gen[FZ_ALTS];	/* pattern generation of each (messages) */
	uint8_t n;		/* h[0..n) */
	uint8_t loose;		/* more possibilities than FZ_ALTS */
	uint8_t claim;		/* a request of this round touches it */
};

/* A window of the backend the fuzzer owns and checks. Requests aim at
 * [tfirst, tfirst + tn); the rest of the window is a guard band. */
struct fz_win {
	uint64_t first, n;
	uint64_t tfirst, tn;
	struct fz_sect *s;
};

#define FZ_WINS		3
struct fz_shadow {
	struct fz_win w[FZ_WINS];
	unsigned int nw;
	uint64_t zero_hash;
	uint64_t seed;
	struct vblk_extent *claims;	/* this round's, to clear them */
	size_t nclaims, cap_claims;
};

uint64_t fz_hash_sector(const void *blk);
/* The shadow entry of @sector, NULL outside the windows. */
struct fz_sect *fz_sect(struct fz_shadow *sw, uint64_t sector);
/* Is [sector, sector + n) in one window (its target part with @target)? */
bool fz_in_window(struct fz_shadow *sw, uint64_t sector, uint64_t n,
		  bool target);
/* Is nothing of [sector, sector + n) claimed by a request of this round?
 * Sectors outside the windows are always free. */
bool fz_claimable(struct fz_shadow *sw, uint64_t sector, uint64_t n);
void fz_claim(struct fz_shadow *sw, uint64_t sector, uint64_t n);
void fz_unclaim_round(struct fz_shadow *sw);
/* Also claims a killed child left behind. */
void fz_unclaim_all(struct fz_shadow *sw);
/* The sector may now also hold @h (a write in flight): true if @h was new
 * (only then may fz_unpend() take it back). */
bool fz_pend(struct fz_shadow *sw, uint64_t sector, uint64_t h, uint32_t gen);
/* A write in flight did not happen: forget @h again (never the oldest). */
void fz_unpend(struct fz_shadow *sw, uint64_t sector, uint64_t h);
/* The sector holds @h. */
void fz_settle(struct fz_shadow *sw, uint64_t sector, uint64_t h, uint32_t gen);

/* ------------------------------------------------------------------------
 * The run: options, shared counters, failures
 */

enum fz_kind { FZ_WF, FZ_MAL, FZ_JUNK, FZ_DUP, FZ_STRAY, FZ_NKINDS };

enum fz_event {
	FZ_EV_NONE,
	FZ_EV_MEM_SAME,		/* SET_MEM_TABLE with the same table */
	FZ_EV_MEM_SHRINK,	/* a smaller table, then the full one again */
	FZ_EV_MEM_BAD,		/* tables the vhost core must refuse */
	FZ_EV_DETACH,		/* backend -1, kicks, the backend again */
	FZ_EV_BAD_IOCTL,	/* ioctls that must fail and change nothing */
	FZ_EV_RESET,		/* VHOST_RESET_OWNER, then set up again */
	FZ_EV_CLOSE,		/* close with requests in flight */
	FZ_EV_KICKS,		/* kick storms */
	FZ_EV_WORKER,		/* queues moved to new worker threads */
	FZ_EV_RECALL,		/* the file's layout recalled (bio engine) */
	FZ_EV_REATTACH,		/* between rounds: read-only / engine change */
	FZ_EV_SERIAL,		/* between rounds: a new serial */
	FZ_EV_OWNER_KILL,	/* a child owner SIGKILLed */
	FZ_NEVENTS
};

struct fz_counters {
	uint64_t sent[FZ_NKINDS];	/* avail entries made available */
	uint64_t wf_made;		/* well-formed requests built */
	uint64_t status[4];		/* OK, IOERR, UNSUPP, none (used len 0) */
	uint64_t completions;
	uint64_t refused;		/* chains the vhost core refused */
	uint64_t rings_broken;
	uint64_t devices;
	uint64_t rounds;
	uint64_t events[FZ_NEVENTS];
	uint64_t unsure;		/* completions a reset/close made optional */
	uint64_t stranded;		/* behind a refused chain */
	uint64_t data_checked;		/* sectors read back and compared */
	uint64_t failures;
	/* dirty logging (log.c) */
	uint64_t log_devices;		/* devices with a log */
	uint64_t log_rounds;		/* rounds whose log was checked */
	uint64_t log_rounds_off;	/* of them with VHOST_F_LOG_ALL off */
	uint64_t log_toggles;		/* LOG_ALL switched mid-round */
	uint64_t log_skipped;		/* rounds ended by RESET_OWNER / close */
	uint64_t log_pages;		/* pages found logged as they must be */
	uint64_t log_signalled;		/* rounds that logged and fired the eventfd */
};

/* What the fuzzing process and a child owner share (MAP_SHARED). */
struct fz_shared {
	struct fz_counters c;
	uint64_t gen;			/* last pattern generation */
	uint64_t progress;		/* rounds, for the owner-kill parent */
	int failed;
	char fail[2048];
};

struct fz_opts {
	uint64_t seed;
	uint64_t requests;		/* 0: no limit */
	unsigned int seconds;		/* 0: no limit */
	unsigned int timeout_s;		/* per wait for a completion */
	int engine;			/* VHOST_BLK_ENGINE_*, or -1: mix */
	bool direct;
	bool keep_going;
	bool verbose;
	bool trace;			/* a line per chain and per completion */
	bool no_kill;			/* no owner-kill episodes */
	bool shared;			/* others use the module meanwhile */
	bool no_discard;		/* no well-formed DISCARD */
	unsigned int align;		/* least data buffer alignment */
	unsigned int region_mib;
	const char *backend;
	const char *node;		/* /dev/vhost-blk */
};

struct fz_run {
	struct fz_opts o;
	struct fz_rng rng;
	struct fz_shared *sh;
	struct fz_shadow sw;
	struct fz_model *mx;
	int bfd;			/* the backend, for attaching */
	uint64_t bsize;
	bool is_blk;
	bool has_layout;		/* a file the bio engine takes */
	struct vblk_events ev0;		/* the module's events at the start */
	struct fz_devmodel base;	/* the backend as a writable attach shows it */
	bool is_child;
	bool log_ok;			/* the module is there: logs are kept */
	unsigned int dev_seq;
	uint64_t round_seq;
	int64_t t0_ms, deadline_ms;
	uint64_t last_report_ms;
	unsigned int printed_fails;
};

/* Record a failure (the first one is the verdict) and print it. -1. */
int fz_fail(struct fz_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool fz_stop(struct fz_run *run);
uint64_t fz_sent(const struct fz_run *run);
void fz_note(struct fz_run *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fz_progress(struct fz_run *run, bool force);
void fz_summary(struct fz_run *run, double secs);
/* Module counters back to 0 and page pins balanced: 0, -1 (failure
 * recorded), 1 when the counters cannot be read. */
int fz_check_clean(struct fz_run *run, const char *after, int timeout_s);
const char *fz_status_name(int status);
const char *fz_kind_name(int kind);
const char *fz_event_name(int ev);

/* ------------------------------------------------------------------------
 * Requests, queues, devices
 */

/* A piece of guest memory a request owns. */
struct fz_blk {
	uint8_t *base;		/* the allocation */
	size_t size;
	uint8_t *p;		/* the buffer in it; the rest is canary */
	size_t len;
	bool ro;		/* the device may only read it */
	uint64_t h;		/* hash of a read-only buffer when sealed */
};

#define FZ_REQ_BLKS	8

struct fz_req {
	struct fz_req *next;
	unsigned int q;
	uint16_t head;
	uint8_t kind;
	bool published;
	bool sealed;		/* read-only buffers hashed */
	char what[128];
	struct fz_outcome out;
	unsigned int want, got;	/* completions owed, seen */
	bool unsure;		/* a reset or close may have swallowed it */
	struct fz_blk blk[FZ_REQ_BLKS];
	unsigned int nblk;
	/* a write: hashes of the sectors it covers (all in the windows) */
	uint64_t wsector;
	uint32_t wn;
	uint64_t *wh;
	uint32_t *wgen;		/* pattern generation of each (messages) */
	/* what fz_pend() added for it, to take back if it never happens */
	struct fz_pended {
		uint64_t sector;
		uint64_t h;
	} *pended;
	uint32_t npended;
};

enum fz_pos_kind { FZ_POS_CHAIN, FZ_POS_DUP, FZ_POS_STRAY, FZ_POS_JUMP };

/* An avail entry of this round, in the order it is made available. */
struct fz_pos {
	uint8_t kind;
	uint16_t head;
	uint16_t jump;		/* FZ_POS_JUMP: how far avail idx moves */
	struct fz_req *req;
	bool reject;
};

struct fz_queue {
	struct fz_req **by_head;	/* num: the request of each head */
	struct fz_pos *pos;		/* up to num + 1 */
	unsigned int npos, published;
	uint16_t avail0;		/* avail idx at the round's start */
	unsigned int first_reject;	/* FZ_NONE if none */
	bool closed;			/* no more chains this round */
	unsigned int pending;		/* completions still owed */
	uint64_t err0;
};

struct fz_dev {
	struct vblk_dev d;
	struct fz_run *run;
	unsigned int id;
	struct fz_table table;
	struct fz_devmodel m;
	uint32_t engine;		/* as asked */
	uint32_t flags;			/* backend flags as attached */
	struct fz_queue q[VHOST_BLK_MAX_QUEUES];
	unsigned int nq;
	struct fz_req *reqs;		/* this round's */
	uint8_t *rarena;		/* big read-only buffer, fixed bytes */
	size_t rarena_len;
	uint8_t *warena;		/* big writable buffer, one user a round */
	size_t warena_len;
	bool warena_busy;
	uint8_t *alias[2];		/* 64 KiB each, guest-contiguous aliases */
	bool alias_on;			/* the table has the alias regions */
	bool alias_busy;		/* one user a round */
	uint8_t *scratch;		/* host memory for data read back */
	uint64_t scratch_len;
	bool open;			/* fd still open */
	bool broken;			/* a ring broke: close it */
	bool big_ok;			/* arenas allowed this device */
	bool allow_break;		/* this round may refuse chains */
	uint64_t rounds;
	/* dirty logging (log.c) */
	bool log;			/* the device has a log (SET_LOG_BASE) */
	bool log_on;			/* VHOST_F_LOG_ALL acked now */
	bool log_was_on;		/* ... at the round's start */
	bool log_toggled;		/* switched in this round */
	uint8_t *log_bits;		/* the log: a bit a 4 KiB guest page */
	uint8_t *log_allowed;		/* the pages this round may log */
	int log_efd;			/* VHOST_SET_LOG_FD */
	uint64_t log_rounds, log_rounds_off, log_pages, log_toggles;
	uint64_t log_signalled;
};

/* device.c */
int fz_dev_up(struct fz_run *run, struct fz_dev *dv, bool simple);
void fz_dev_down(struct fz_dev *dv);
int fz_dev_attach(struct fz_dev *dv, uint32_t flags, uint32_t engine);
int fz_dev_set_table(struct fz_dev *dv, const struct vhost_memory *m,
		     size_t size, int want_errno, const char *what);
/* The table of the model (dv->table) as VHOST_SET_MEM_TABLE wants it;
 * @m has room for FZ_TABLE_MAX regions. */
void fz_dev_full_table(struct fz_dev *dv, struct vhost_memory *m);
/* Switch the alias regions on or off (drained devices only). */
int fz_dev_alias(struct fz_dev *dv, bool on);
int fz_dev_worker_swap(struct fz_dev *dv);
/* Guest-physical address of the alias window: A | B | unmapped. */
#define FZ_ALIAS_GPA	0x8000000000ULL
#define FZ_ALIAS_LEN	(64u << 10)
/* last_avail_idx of queue @q: 0, 1 if the device cannot tell, -1. */
int fz_dev_last_avail(struct fz_dev *dv, unsigned int q, uint16_t *idx);
int fz_dev_bad_ioctls(struct fz_dev *dv);
int fz_dev_new_serial(struct fz_dev *dv);
uint32_t fz_pick_engine(struct fz_run *run);

/* chain.c */
/* Guest memory for @r: @len bytes at an address that is @off past a
 * multiple of @align; canary around. NULL when guest memory is short. */
uint8_t *fz_alloc(struct fz_dev *dv, struct fz_req *r, size_t len,
		  size_t align, size_t off, bool ro);
uint64_t fz_gpa(struct fz_dev *dv, const void *p, size_t len);
/* Hash the read-only buffers of @r (after they are filled). */
void fz_seal(struct fz_req *r);
/* Canaries and read-only buffers intact? 0, or -1 (failure recorded). */
int fz_check_blks(struct fz_dev *dv, struct fz_req *r);
void fz_req_free(struct fz_dev *dv, struct fz_req *r, bool mem);
struct fz_req *fz_req_new(struct fz_dev *dv, unsigned int q, int kind);
/* Descriptors straight into the ring (NEXT linking added), @token the
 * request. Head, or -ENOSPC. */
int fz_put_direct(struct vblk_vq *vq, const struct vblk_raw_desc *d,
		  unsigned int n, void *token);
/* An indirect table in @r's memory and one ring descriptor for it. */
int fz_put_indirect(struct fz_dev *dv, struct fz_req *r, struct vblk_vq *vq,
		    const struct vblk_raw_desc *d, unsigned int n);
/* Model the chain at r->head, account its effects; adds the position. */
void fz_add_chain(struct fz_dev *dv, struct fz_req *r);
/* Add an avail entry naming @head (dup / stray / jump). */
void fz_add_pos(struct fz_dev *dv, unsigned int q, int kind, uint16_t head,
		struct fz_req *r, uint16_t jump);
/* Free descriptors of the queue, for the generators' bookkeeping. */
unsigned int fz_room(struct fz_dev *dv, unsigned int q);
/* Make the unsafe write / read of a modelled request harmless (patch its
 * header type so it is UNSUPP). 0 if it is fine as it is or now. */
int fz_defuse(struct fz_dev *dv, struct fz_req *r);

/* gen.c */
/* Build one request on queue @q (not yet available). 1 built, 0 nothing
 * (no room), -1 failure. */
int fz_gen_wf(struct fz_dev *dv, unsigned int q);
int fz_gen_mal(struct fz_dev *dv, unsigned int q);
int fz_gen_junk(struct fz_dev *dv, unsigned int q);
int fz_gen_tail(struct fz_dev *dv, unsigned int q);
uint64_t fz_new_gen(struct fz_run *run);

/* round.c */
int fz_round(struct fz_dev *dv);
/* Release the round's requests; @check: canaries and read-only buffers. */
void fz_round_release(struct fz_dev *dv, bool check);

/* session: a device from start to close. 0, or -1 on failure. */
int fz_session(struct fz_run *run, uint64_t max_rounds);

/* log.c: dirty logging on about a third of the devices */
/* Is the module there (a stand-in keeps no log)? Sets run->log_ok. */
void fz_log_init(struct fz_run *run);
/* Draw whether the new device @dv logs; set it up if so (before attach).
 * A @simple device (the final read-back) never logs. */
int fz_log_dev(struct fz_dev *dv, bool simple);
/* The log set up again (after RESET_OWNER and vblk_dev_setup()). */
int fz_log_setup(struct fz_dev *dv);
void fz_log_free(struct fz_dev *dv);
/* A round starts: the log cleared. */
void fz_log_round_start(struct fz_dev *dv);
/* Maybe switch VHOST_F_LOG_ALL, with requests in flight. */
int fz_log_maybe_toggle(struct fz_dev *dv);
/* The round is drained: the log holds what it must and nothing else. */
int fz_log_check(struct fz_dev *dv);
/* A round that ended with RESET_OWNER or close: not checked. */
void fz_log_skip(struct fz_dev *dv);

/* owner.c */
int fz_owner_episode(struct fz_run *run);

/* shadow.c, with the run */
int fz_shadow_init(struct fz_run *run);
int fz_shadow_fill(struct fz_run *run);
/* Compare a block read from @sector with the shadow (and settle on it). */
int fz_shadow_check(struct fz_run *run, uint64_t sector, const uint8_t *blk,
		    const char *how);
int fz_verify_device(struct fz_run *run);
int fz_verify_direct(struct fz_run *run);

#endif /* VFUZZ_H */
