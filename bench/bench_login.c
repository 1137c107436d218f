/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cost of a login through real libpam: CYCLES times pam_start,
 * pam_acct_mgmt, pam_open_session, pam_close_session, pam_end for one
 * service and user, each cycle timed whole.
 *
 *   bench_login [-k WORKERS] [-l LICENSES] [-t SECONDS] [-u UTMP]
 *               [-w MICROSECONDS] SERVICE USER CYCLES
 *
 * -k  fork WORKERS drivers that start together; worker i logs in as USERi
 *     (USER1 ... USERk), so they compete for the same licenses
 * -l  the licenses the workers share: a cycle that holds a session while
 *     LICENSES others already do is counted as a duplicated slot
 * -t  stop a worker after SECONDS (at least 3 cycles), for slow stacks
 * -u  the utmp file of this process (utmpname), for pam_limits' maxlogins
 * -w  keep each session open that long, so that workers overlap
 *
 * The service is found where libpam looks: /etc/pam.d as root, or the
 * directory pam_wrapper is given.  Users come from NSS (nss_wrapper).
 * Prints one line of key=value: cycles, granted (the session opened),
 * refused (account or session said no), failed (any other error), the
 * median, 10th and 90th percentile and the slowest cycle in microseconds,
 * the median CPU time of a cycle (user and system, of the driver's process:
 * what a loaded machine's waits for a core leave out), and max_held, the most sessions seen open at once.  Exit status 0 unless a
 * cycle failed or a slot was duplicated.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utmp.h>

#include <security/pam_appl.h>

#define MAX_WORKERS 256

/* What workers share with the parent: counts, and every cycle's time. */
struct shared {
	unsigned held;			/* sessions open now, all workers */
	unsigned max_held;
	unsigned duplicated;		/* cycles that saw more than licenses */
	unsigned cycles[MAX_WORKERS];
	unsigned granted[MAX_WORKERS];
	unsigned refused[MAX_WORKERS];
	unsigned failed[MAX_WORKERS];
	double samples[];		/* workers * cycles wall times, then
					 * as many CPU times */
};

/* Answers every prompt with nothing: the stacks measured ask nothing, and
 * a refusal's message is only shown. */
static int conversation(int n, const struct pam_message **msg,
			struct pam_response **resp, void *data)
{
	(void)msg;
	(void)data;
	*resp = calloc((size_t)n, sizeof(**resp));
	return *resp ? PAM_SUCCESS : PAM_BUF_ERR;
}

static double clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

static int compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* A refusal is an answer; anything else that is not success is a fault. */
static bool refusal(int rc)
{
	return rc == PAM_PERM_DENIED || rc == PAM_ACCT_EXPIRED ||
	       rc == PAM_AUTH_ERR || rc == PAM_MAXTRIES;
}

enum outcome { GRANTED, REFUSED, FAILED };

static enum outcome cycle(const char *service, const char *user,
			  struct shared *sh, unsigned licenses, unsigned hold)
{
	struct pam_conv conv = { conversation, NULL };
	pam_handle_t *pamh = NULL;
	enum outcome result = GRANTED;
	int rc;

	rc = pam_start(service, user, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start(%s, %s): %d\n", service, user, rc);
		return FAILED;
	}
	pam_set_item(pamh, PAM_TTY, "pts/9");
	pam_set_item(pamh, PAM_RHOST, "192.0.2.9");
	rc = pam_acct_mgmt(pamh, PAM_SILENT);
	if (rc == PAM_SUCCESS)
		rc = pam_open_session(pamh, PAM_SILENT);
	if (rc == PAM_SUCCESS) {
		unsigned held = __atomic_add_fetch(&sh->held, 1,
						   __ATOMIC_SEQ_CST);
		unsigned max = __atomic_load_n(&sh->max_held,
					       __ATOMIC_SEQ_CST);

		while (held > max &&
		       !__atomic_compare_exchange_n(&sh->max_held, &max, held,
						    false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST))
			;
		if (licenses && held > licenses)
			__atomic_add_fetch(&sh->duplicated, 1,
					   __ATOMIC_SEQ_CST);
		if (hold)
			usleep(hold);
		__atomic_sub_fetch(&sh->held, 1, __ATOMIC_SEQ_CST);
		rc = pam_close_session(pamh, PAM_SILENT);
		if (rc != PAM_SUCCESS) {
			fprintf(stderr, "%s: close: %s\n", user,
				pam_strerror(pamh, rc));
			result = FAILED;
		}
	} else if (refusal(rc)) {
		result = REFUSED;
	} else {
		fprintf(stderr, "%s: %s\n", user, pam_strerror(pamh, rc));
		result = FAILED;
	}
	pam_end(pamh, rc);
	return result;
}

struct run {
	const char *service;
	unsigned workers;
	unsigned cycles;
	double seconds;
	unsigned licenses;
	unsigned hold;			/* microseconds */
};

static void worker(unsigned index, const char *user, const struct run *run,
		   struct shared *sh)
{
	double *samples = sh->samples + (size_t)index * run->cycles;
	double *cpu = sh->samples + (size_t)(run->workers + index) *
				    run->cycles;
	double deadline = now_us() + run->seconds * 1e6;

	for (unsigned i = 0; i < run->cycles; i++) {
		double t0 = now_us();
		double c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
		enum outcome o = cycle(run->service, user, sh, run->licenses,
				       run->hold);

		cpu[i] = clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
		samples[i] = now_us() - t0;
		sh->cycles[index]++;
		if (o == GRANTED)
			sh->granted[index]++;
		else if (o == REFUSED)
			sh->refused[index]++;
		else
			sh->failed[index]++;
		if (run->seconds > 0 && i >= 2 && samples[i] + t0 > deadline)
			break;
	}
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-k WORKERS] [-l LICENSES] [-t SECONDS] "
		"[-u UTMP] [-w MICROSECONDS] SERVICE USER CYCLES\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	unsigned workers = 1, cycles, n = 0;
	unsigned granted = 0, refused = 0, failed = 0;
	double *all, *all_cpu, cpu_median;
	struct shared *sh;
	size_t size;
	int gate[2], opt;

	while ((opt = getopt(argc, argv, "k:l:t:u:w:")) != -1) {
		switch (opt) {
		case 'k':
			workers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			run.licenses = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			run.seconds = strtod(optarg, NULL);
			break;
		case 'w':
			run.hold = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			/* pam_limits reads the process's utmp file. */
			if (utmpname(optarg) != 0) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
		}
	}
	if (argc - optind != 3)
		usage(argv[0]);
	cycles = (unsigned)strtoul(argv[optind + 2], NULL, 10);
	if (workers < 1 || workers > MAX_WORKERS || cycles < 1)
		usage(argv[0]);
	run.service = argv[optind];
	run.workers = workers;
	run.cycles = cycles;

	size = sizeof(*sh) + sizeof(double) * 2 * workers * cycles;
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	if (sh == MAP_FAILED || pipe(gate) != 0) {
		perror("bench_login");
		return 1;
	}
	for (unsigned i = 0; i < workers; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char user[256], buf[1];

			/* Start together: the gate opens when it closes. */
			close(gate[1]);
			while (read(gate[0], buf, 1) < 0 && errno == EINTR)
				;
			if (workers == 1)
				snprintf(user, sizeof(user), "%s", argv[optind + 1]);
			else
				snprintf(user, sizeof(user), "%s%u",
					 argv[optind + 1], i + 1);
			worker(i, user, &run, sh);
			_exit(0);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (unsigned i = 0; i < workers; i++) {
		int status;

		if (wait(&status) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	}

	all = calloc((size_t)workers * cycles, sizeof(*all));
	all_cpu = calloc((size_t)workers * cycles, sizeof(*all_cpu));
	if (all == NULL || all_cpu == NULL)
		return 1;
	for (unsigned i = 0; i < workers; i++) {
		memcpy(all + n, sh->samples + (size_t)i * cycles,
		       sh->cycles[i] * sizeof(*all));
		memcpy(all_cpu + n, sh->samples + (size_t)(workers + i) * cycles,
		       sh->cycles[i] * sizeof(*all_cpu));
		n += sh->cycles[i];
		granted += sh->granted[i];
		refused += sh->refused[i];
		failed += sh->failed[i];
	}
	if (n == 0) {
		free(all);
		free(all_cpu);
		return 1;
	}
	qsort(all, n, sizeof(*all), compare);
	qsort(all_cpu, n, sizeof(*all_cpu), compare);
	cpu_median = all_cpu[n / 2];
	free(all_cpu);
	printf("cycles=%u granted=%u refused=%u failed=%u median_us=%.1f "
	       "p10_us=%.1f p90_us=%.1f max_us=%.1f cpu_median_us=%.1f "
	       "max_held=%u duplicated=%u\n", n, granted, refused, failed,
	       all[n / 2], all[n / 10], all[n * 9 / 10], all[n - 1],
	       cpu_median, sh->max_held, sh->duplicated);
	free(all);
	return failed || sh->duplicated ? 1 : 0;
}
