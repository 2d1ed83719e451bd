/* Two helpers of bench/workloads.py, one source built under two names (the name is the comm the
   alerts show, as proc.name or proc.pname):

     wl_connect connect SECONDS         a client-side connect storm on loopback for SECONDS: a child
                                        accepts and closes; the parent socket()+connect()+close()s in a
                                        loop (SO_LINGER 0: a reset, so no TIME_WAIT uses up the ports)
     wl_attacker attack INTERVAL HOST PORT TOKEN
                                        until SIGTERM, every INTERVAL seconds, tick i (from 0):
                                        `cat /etc/shadow TOKEN-si`; when i % 4 == 1 also
                                        `bash -c 'exec 3<>/dev/tcp/HOST/PORT # TOKEN-ci'`; when
                                        i % 4 == 3 also `touch /etc/tiercel-workloads-TOKEN-ei`,
                                        then `rm -f` of it

   connect prints "COUNT ELAPSED_S FAILED". attack prints one line per action as it starts it,
   "KIND I PID T_NS" (KIND shadow, connect or etc; T_NS its CLOCK_MONOTONIC time just before the
   fork), each action waited for before the next. TOKEN-si, -ci, -ei name the action in the
   cat's and the shell's command lines and in the file's name, so each alert finds its action. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

static int connect_storm(double seconds)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 4096)
        || getsockname(ls, (struct sockaddr *)&addr, &len)) {
        perror("listener");
        return 1;
    }
    pid_t acceptor = fork();
    if (acceptor == 0) {
        for (;;) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0)
                close(c);
        }
    }
    close(ls);
    struct linger reset = {1, 0};
    struct timespec start;
    long n = 0, failed = 0;
    double elapsed;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 100; i++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr))
                failed++;
            else
                setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            if (s >= 0)
                close(s);
        }
        n += 100;
        elapsed = since(&start);
    } while (elapsed < seconds);
    kill(acceptor, SIGKILL);
    waitpid(acceptor, NULL, 0);
    printf("%ld %.6f %ld\n", n, elapsed, failed);
    return failed != 0;
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

/* fork+exec argv (stdout and stderr to /dev/null), print the action's line, wait for it. */
static void act(const char *kind, int i, char *const argv[])
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execvp(argv[0], argv);
        _exit(127);
    }
    printf("%s %d %d %lld\n", kind, i, pid, (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
    fflush(stdout);
    waitpid(pid, NULL, 0);
}

static int attack(double interval, const char *host, const char *port, const char *token)
{
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    long long step = (long long)(interval * 1e9), next;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    next = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
    char name[256], script[512], path[300];
    for (int i = 0; !stopping; i++) {
        snprintf(name, sizeof name, "%s-s%d", token, i);
        act("shadow", i, (char *const[]){"cat", "/etc/shadow", name, NULL});
        if (i % 4 == 1) {
            snprintf(name, sizeof name, "%s-c%d", token, i);
            snprintf(script, sizeof script, "exec 3<>/dev/tcp/%s/%s # %s", host, port, name);
            act("connect", i, (char *const[]){"bash", "-c", script, NULL});
        }
        if (i % 4 == 3) {
            snprintf(name, sizeof name, "%s-e%d", token, i);
            snprintf(path, sizeof path, "/etc/tiercel-workloads-%s", name);
            act("etc", i, (char *const[]){"touch", path, NULL});
            act("etc-cleanup", i, (char *const[]){"rm", "-f", path, NULL});
        }
        next += step;  /* ticks on a fixed grid: a slow action does not push the later ones back */
        t.tv_sec = next / 1000000000LL;
        t.tv_nsec = next % 1000000000LL;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return connect_storm(atof(argv[2]));
    if (argc == 6 && strcmp(argv[1], "attack") == 0)
        return attack(atof(argv[2]), argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: connect SECONDS | attack INTERVAL HOST PORT TOKEN\n");
    return 2;
}
