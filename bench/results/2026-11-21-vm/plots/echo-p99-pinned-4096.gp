set terminal pngcairo size 900,540 noenhanced
set output 'echo-p99-pinned-4096.png'
set title 'echo p99 latency (ms) vs connections, pinned, 4096 B'
set ylabel 'p99 latency (ms)'
set grid
set key outside right
set xlabel 'connections'
set logscale x
set xrange [50:20000]
set logscale y
plot 'echo-p99-pinned-4096.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title 'native threads', \
     'echo-p99-pinned-4096.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title 'shim', \
     'echo-p99-pinned-4096.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title 'epoll', \
     'echo-p99-pinned-4096.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title 'Go'
