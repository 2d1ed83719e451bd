/* The workloads of bench/storm_compare.py, one source with three modes, built as `storm_load` (the
   storms) and as `storm_attacker` (the attacks: its name tells its cats' alerts, by proc.pname, from
   those of any other cat on the host):

     storm_load open PATH SECONDS      open(PATH, O_RDONLY)+close in a loop for SECONDS
     storm_load exec N                 fork+exec /bin/true N times, one after another
     storm_attacker attack N INTERVAL PATH  every INTERVAL seconds, fork+exec `cat PATH` (stdout to
                                            /dev/null), N times

   open and exec print "COUNT ELAPSED_S FAILED"; attack prints each cat's pid as it starts it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static int open_storm(const char *path, double seconds)
{
    struct timespec start;
    long n = 0, failed = 0;
    double elapsed;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 1000; i++) {
            int fd = open(path, O_RDONLY);
            if (fd < 0)
                failed++;
            else
                close(fd);
        }
        n += 1000;
        elapsed = since(&start);
    } while (elapsed < seconds);
    printf("%ld %.6f %ld\n", n, elapsed, failed);
    return failed != 0;
}

static int exec_storm(int n)
{
    struct timespec start;
    long failed = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/true", "true", (char *)0);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    printf("%d %.6f %ld\n", n, since(&start), failed);
    return failed != 0;
}

static int attack(int n, double interval, const char *path)
{
    struct timespec pause = {(time_t)interval, (long)((interval - (time_t)interval) * 1e9)};
    for (int i = 0; i < n; i++) {
        nanosleep(&pause, NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            execl("/bin/cat", "cat", path, (char *)0);
            _exit(127);
        }
        printf("%d\n", pid);
        fflush(stdout);
        waitpid(pid, NULL, 0);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "open") == 0)
        return open_storm(argv[2], atof(argv[3]));
    if (argc == 3 && strcmp(argv[1], "exec") == 0)
        return exec_storm(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "attack") == 0)
        return attack(atoi(argv[2]), atof(argv[3]), argv[4]);
    fprintf(stderr, "usage: open PATH SECONDS | exec N | attack N INTERVAL PATH\n");
    return 2;
}
