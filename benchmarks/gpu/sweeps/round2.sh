# Hard negatives were off by default when this round ran: the flags below reproduce it.
b="--modules 0 --epochs 2 --max-steps 1000 --lora-r 16 --lora-alpha 32 --balance --learning-rate 1e-3"
run new $b --no-hard-negatives & run new_hard $b --hard-negatives & run old_hard_s1 $b --hard-negatives --ungrouped --base-dropout --seed 1 & run new_t003 $b --temperature 0.03 --no-hard-negatives & wait
