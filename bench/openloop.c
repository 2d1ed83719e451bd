/* open+close of one file in a loop for SECONDS; prints the number of iterations per second. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    const char *path = argc > 2 ? argv[2] : "/etc/hostname";
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long n = 0;
    double elapsed = 0;
    do {
        for (int i = 0; i < 1000; i++)
            close(open(path, O_RDONLY));
        n += 1000;
        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    } while (elapsed < seconds);
    printf("%.0f\n", n / elapsed);
    return 0;
}
