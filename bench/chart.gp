# The chart of latest.json: IOPS at QD32, p50 latency at QD1 and CPU per I/O
# at QD32 (one queue), one group of bars a backend/rw, one bar a target.
# gnuplot -e "dir='DIR'" bench/chart.gp reads DIR/{iops,lat,cpu}.dat
# (written by vbench report --plot DIR) and writes DIR/latest.png.
if (!exists("dir")) dir = "."
set terminal pngcairo size 1500,520 font ",10" noenhanced
set output dir."/latest.png"
set datafile missing "?"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -25 scale 0
set grid ytics
set key top left
set yrange [0:*]
set multiplot layout 1,3 title "vhost-blk benchmark (TCG test host: compare ratios, not absolute numbers)"
set title "IOPS at QD32, 1 queue (thousands; higher is better)"
plot for [i=2:7] dir."/iops.dat" using i:xtic(1) title columnhead(i)
set title "p50 latency at QD1, 1 queue (us; lower is better)"
plot for [i=2:7] dir."/lat.dat" using i:xtic(1) title columnhead(i)
set title "busy CPU per I/O at QD32, 1 queue (us; lower is better)"
plot for [i=2:7] dir."/cpu.dat" using i:xtic(1) title columnhead(i)
unset multiplot
