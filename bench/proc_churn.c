/* Process churn for bench/soak.py: N live processes at once, then none.

     proc_churn N     fork N children that pause(); print "FORKED ELAPSED_S"; hold them until stdin
                      ends (or a line is read); SIGKILL every child, reap them all; print
                      "REAPED ELAPSED_S" and exit.

   A fork that fails ends the forking early (FORKED < N says so). Each child dies with its parent
   (PR_SET_PDEATHSIG), so a bench killed halfway leaves no process behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: proc_churn N\n");
        return 2;
    }
    pid_t parent = getpid();
    pid_t *pids = calloc(n, sizeof *pids);
    if (pids == NULL)
        return 1;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long forked = 0;
    for (; forked < n; forked++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("proc_churn: fork");
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)   /* the parent died before the line above */
                _exit(0);
            for (;;)
                pause();
        }
        pids[forked] = pid;
    }
    printf("%ld %.6f\n", forked, since(&start));
    fflush(stdout);

    char line[64];
    (void)!fgets(line, sizeof line, stdin);   /* a line, EOF or an error: release them */

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0; i < forked; i++)
        kill(pids[i], SIGKILL);
    long reaped = 0;
    while (reaped < forked && waitpid(-1, NULL, 0) > 0)
        reaped++;
    printf("%ld %.6f\n", reaped, since(&start));
    return reaped == forked ? 0 : 1;
}
