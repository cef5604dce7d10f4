/*
 * queue-bench: what coalescing costs in the notifier's outbound queue
 * (notifier/ntf_queue.c), on one core, no I/O.
 *
 *  - plain: bursts of 64 frames pushed then written (popped), the path of
 *    every connection that never asks to coalesce; the ceiling the other
 *    figures are read against.
 *  - merge: a client that does not read while 64 documents keep changing:
 *    each event finds its document's queued frame through the index,
 *    takes it out (a hole) and queues behind the backlog. Run behind
 *    backlogs of 10, 1,000 and 100,000 unrelated frames: with the index a
 *    merge costs the same however long the queue is.
 *
 * Prints ns per operation (best of ROUNDS) and each merge figure as a
 * ratio to the plain push+pop of the same run. Usage: queue-bench [rounds].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ntf_queue.h"

#define PLAIN_FRAMES 2000000
#define MERGES 1000000
#define DOCS 64

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double plain_ns(struct ntf_msg *m)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {200000, 1u << 30};
	double t0 = now_s();

	for (int r = 0; r < PLAIN_FRAMES / 64; r++) {
		for (int i = 0; i < 64; i++)
			if (ntf_queue_push(&q, m, &caps) < 0)
				exit(1);
		while (q.count)
			ntf_queue_pop(&q);
	}
	return (now_s() - t0) / PLAIN_FRAMES * 1e9;
}

static double merge_ns(struct ntf_msg *filler, struct ntf_msg **docs, int backlog)
{
	struct ntf_queue q = {0};
	struct ntf_queue_caps caps = {200000, 1u << 30};
	static int feed; /* the stream: only its address matters */
	double t0;

	for (int i = 0; i < backlog; i++)
		if (ntf_queue_push(&q, filler, &caps) < 0)
			exit(1);
	t0 = now_s();
	for (int i = 0; i < MERGES; i++) {
		struct ntf_msg *m = docs[i % DOCS];

		if (ntf_queue_indexed(&q, &feed, m->doc_id, m->doc_id_len))
			ntf_queue_remove_indexed(&q, &feed, m->doc_id, m->doc_id_len);
		if (ntf_queue_push(&q, m, &caps) < 0)
			exit(1);
		(void)ntf_queue_index_last(&q, &feed);
	}
	t0 = (now_s() - t0) / MERGES * 1e9;
	ntf_queue_clear(&q);
	return t0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	static const int backlogs[] = {10, 1000, 100000};
	double plain = 1e9, merge[3] = {1e9, 1e9, 1e9};
	struct ntf_msg *filler = ntf_msg_new(100), *docs[DOCS];

	if (!filler || rounds < 1 || rounds > 1000)
		return 1;
	for (int i = 0; i < DOCS; i++) {
		docs[i] = ntf_msg_new(100);
		if (!docs[i])
			return 1;
		docs[i]->is_event = true;
		docs[i]->doc_id_len = (uint8_t)snprintf(docs[i]->doc_id, sizeof(docs[i]->doc_id), "doc%d", i);
	}
	for (int r = 0; r < rounds; r++) {
		double p = plain_ns(filler);

		plain = p < plain ? p : plain;
		for (int b = 0; b < 3; b++) {
			double m = merge_ns(filler, docs, backlogs[b]);

			merge[b] = m < merge[b] ? m : merge[b];
		}
	}
	printf("plain push+pop: %.1f ns/frame (best of %d)\n", plain, rounds);
	for (int b = 0; b < 3; b++)
		printf("merge behind %6d frames: %.1f ns/merge = %.1f x plain\n", backlogs[b], merge[b],
		       merge[b] / plain);
	printf("merge behind 100000 / behind 10: %.2f\n", merge[2] / merge[0]);
	for (int i = 0; i < DOCS; i++)
		ntf_msg_unref(docs[i]);
	ntf_msg_unref(filler);
	return 0;
}
